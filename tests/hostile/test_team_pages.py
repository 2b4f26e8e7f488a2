"""Hostile input to sign-in, the token vault, the users pages and "My API token".

The signed-in roles are never changed: the users pages act on `hostile-victim`, token values
go to the spare token or to `hostile-selfie`'s own, so the team token keeps working.
"""

from __future__ import annotations

import pytest

from tests.hostile.corpus import pick, texts
from tests.hostile.harness import Case

pytestmark = pytest.mark.multi

NEW_PASSWORD = "a-fresh-long-password-42"


def test_sign_in_fields(batch):
    cases = []
    for n, (label, value) in enumerate(texts(mixes=6)):
        for form in (
            {"username": value, "password": "wrong"},
            {"username": f"hostile-ghost-{n}", "password": value},
            {"username": value, "password": value, "next": value},
        ):
            cases.append(Case("sign-in", label, "POST", "/login/", role="anonymous", form=form))
    cases.append(
        Case("sign-in", "no fields", "POST", "/login/", role="anonymous", form={}, htmx=True)
    )
    batch.run(cases)
    batch.assert_clean()


def test_token_vault_fields(batch):
    ids = batch.portal.ids
    spare, team = ids["spare_token"], ids["team_token"]
    cases = []
    for n, (label, value) in enumerate(texts(mixes=6)):
        cases += pick(
            [
                Case(
                    "token add label",
                    label,
                    "POST",
                    "/tokens/add/",
                    form={"label": value, "value": f"v-{n}"},
                ),
                Case(
                    "token add value",
                    label,
                    "POST",
                    "/tokens/add/",
                    form={"label": f"h{n}", "value": value},
                ),
                Case(
                    "token relabel", label, "POST", f"/tokens/{spare}/label/", form={"label": value}
                ),
                Case(
                    "token replace", label, "POST", f"/tokens/{spare}/value/", form={"value": value}
                ),
                Case(
                    "my token",
                    label,
                    "POST",
                    "/account/token/",
                    role="selfie",
                    form={"value": value},
                ),
            ],
            n,
            3,
        )
    for pk in (team, spare, 0, 999999, "9" * 30):
        cases += [
            Case("token verify", str(pk)[:20], "POST", f"/tokens/{pk}/verify/", form={}),
            Case("token page", str(pk)[:20], "GET", f"/tokens/{pk}/", read_only=True),
        ]
    # Deleting comes last: the team token is in use (refused), the spare one goes.
    for pk in (team, 999999, spare):
        cases.append(
            Case(
                "token delete", str(pk), "POST", f"/tokens/{pk}/delete/", form={"confirmed": "yes"}
            )
        )
    batch.run(cases)
    batch.assert_clean()


def test_users_pages_fields(batch):
    ids = batch.portal.ids
    victim, team = ids["hostile-victim"], ids["team_token"]
    cases = []
    for n, (label, value) in enumerate(texts(mixes=6)):
        add = {
            "username": value,
            "role": "viewer",
            "token": str(team),
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        }
        cases += pick(
            [
                Case("user add username", label, "POST", "/users/add/", form=add),
                Case(
                    "user add role",
                    label,
                    "POST",
                    "/users/add/",
                    form={**add, "username": f"h{n}", "role": value},
                ),
                Case(
                    "user add token",
                    label,
                    "POST",
                    "/users/add/",
                    form={**add, "username": f"t{n}", "token": value},
                ),
                Case(
                    "user add password",
                    label,
                    "POST",
                    "/users/add/",
                    form={**add, "username": f"p{n}", "password1": value, "password2": value},
                ),
                Case(
                    "user access",
                    label,
                    "POST",
                    f"/users/{victim}/access/",
                    form={"role": value, "token": value},
                ),
                Case(
                    "user active",
                    label,
                    "POST",
                    f"/users/{victim}/active/",
                    form={"active": value, "confirmed": "yes"},
                ),
                Case(
                    "user password",
                    label,
                    "POST",
                    f"/users/{victim}/password/",
                    form={"password1": value, "password2": value},
                ),
            ],
            n,
            3,
        )
    for pk in (victim, 0, 999999, "9" * 30):
        cases.append(Case("user page", str(pk)[:20], "GET", f"/users/{pk}/", read_only=True))
    batch.run(cases)
    batch.assert_clean()
