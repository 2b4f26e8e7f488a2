"""Hostile input at the bulk actions and job pages (fleet/jobs_views.py).

Every field of the bulk form (offline choice, wait minutes, button id, JSON payload, tag, the
typed number of a Wi-Fi reset, the selection's fingerprint, the action itself), the job
pages' state filter and page, their ids, and the cancel and retry forms get the corpus. No
worker runs here, so a job that starts sends nothing upstream: what is checked is that the
portal answers (never a 500, a traceback or a token), reads only the device list upstream,
and records each attempt once.
"""

from __future__ import annotations

import json

import pytest
from django.core import signing

from emulator.pytest_plugin import TOKEN_A
from tests.hostile.corpus import JSON_TEXTS, NUMBER_WORDS, NUMBERS, pick, query_values, texts
from tests.hostile.harness import Case, query
from tests.multi.deployment import SECRET_KEY

pytestmark = pytest.mark.multi

BULK = "/fleet/bulk/"
SALT = "django.contrib.sessions.SessionStore"  # portal.sessions.SessionStore's key salt
# (the field, the action whose form uses it, the other fields it needs)
FIELDS = [
    ("offline", "reboot", {}),
    ("wait_minutes", "reboot", {"offline": "wait"}),
    ("button_id", "button", {"offline": "try"}),
    ("tag", "tag_add", {"offline": "try"}),
    ("typed_count", "wifi_reset", {"offline": "skip"}),
    ("selection", "reboot", {"offline": "skip"}),
    ("send_anyway", "command", {"offline": "skip", "payload": '{"relay": "on"}'}),
    ("action", "", {"offline": "skip"}),
]


def select(portal, role: str, uids: list[str]) -> None:
    """Put `uids` in the role's session selection (fleet/selection.py), in the database."""
    key = portal.sessions[role].cookies.get("sessionid")
    ((data,),) = portal.query(
        "SELECT session_data FROM django_session WHERE session_key = %s", (key,)
    )
    session = signing.loads(data, key=SECRET_KEY, salt=SALT, serializer=signing.JSONSerializer)
    session[f"fleet_selection:{portal.ids['team_token']}"] = uids
    encoded = signing.dumps(
        session, key=SECRET_KEY, salt=SALT, serializer=signing.JSONSerializer, compress=True
    )
    portal.query(
        "UPDATE django_session SET session_data = %s WHERE session_key = %s RETURNING session_key",
        (encoded, key),
    )


@pytest.fixture
def selected(batch, emulator_server) -> list[str]:
    uids = emulator_server.uids(TOKEN_A)[:4]
    select(batch.portal, "admin", uids)
    return uids


def fingerprint(uids: list[str]) -> str:
    from fleet.jobs_views import fingerprint as of

    return of(uids)


def _bulk(group: str, label: str, action: str, form: dict, n: int) -> Case:
    path = f"{BULK}?action={action}" if action else BULK
    return Case(group, label, "POST", path, form=form, htmx=n % 3 == 0)


def test_bulk_form_fields(batch, selected):
    good = {"selection": fingerprint(selected), "typed_count": str(len(selected))}
    cases = []
    for n, (label, value) in enumerate(texts(huge=True)):
        for field, action, extra in pick(FIELDS, n, 3):
            form = {**good, **extra, field: value}
            cases.append(_bulk(f"bulk {field}", label, action, form, n))
    batch.run(cases)
    batch.assert_clean()


def test_bulk_command_payloads(batch, selected):
    good = {"selection": fingerprint(selected), "offline": "try"}
    cases = [
        _bulk("bulk payload", label, "command", {**good, "payload": text}, n)
        for n, (label, text) in enumerate(JSON_TEXTS)
    ]
    for n, (label, value) in enumerate(texts(long=False)):
        payload = json.dumps({"message": value})
        form = {**good, "payload": payload, "send_anyway": "on"}
        cases.append(_bulk("bulk payload string", label, "command", form, n))
    batch.run(cases)
    batch.assert_clean()


def test_bulk_numbers_and_offline_choices(batch, selected):
    good = {"selection": fingerprint(selected)}
    words = [*NUMBER_WORDS, *(value for _, value in NUMBERS)]
    cases = []
    for n, word in enumerate(words):
        label = repr(word)[:40]
        wait = {**good, "offline": "wait", "wait_minutes": word}
        cases.append(_bulk("bulk wait minutes", label, "ota", wait, n))
        count = {**good, "offline": "skip", "typed_count": word}
        cases.append(_bulk("bulk typed count", label, "wifi_reset", count, n))
    for n, choice in enumerate(["skip", "try", "wait", "SKIP", "later", "", "skip\x00"]):
        form = {**good, "offline": choice, "wait_minutes": "5"}
        cases.append(_bulk("bulk offline choice", repr(choice), "reboot", form, n))
    # The same field twice, a selection that is no longer the one previewed, none at all.
    pairs = [("offline", "skip"), ("offline", "try"), ("selection", good["selection"])]
    cases.append(
        Case("bulk repeated field", "offline twice", "POST", f"{BULK}?action=reboot", form=pairs)
    )
    cases.append(
        _bulk(
            "bulk stale selection",
            "another fingerprint",
            "reboot",
            {"offline": "skip", "selection": "0" * 16},
            0,
        )
    )
    batch.run(cases)
    select(batch.portal, "admin", [])
    batch.run(
        [
            _bulk(
                "bulk empty selection", "nothing selected", "reboot", {**good, "offline": "skip"}, 1
            )
        ]
    )
    batch.assert_clean()


def test_bulk_action_in_the_address(batch, selected):
    cases = []
    for n, (label, value) in enumerate(query_values()):
        cases.append(
            Case(
                "bulk action query",
                label,
                "GET",
                BULK + query([("action", value)]),
                read_only=True,
                htmx=n % 2 == 0,
            )
        )
        form = {"offline": "skip", "selection": fingerprint(selected)}
        cases.append(
            Case("bulk action post", label, "POST", BULK + query([("action", value)]), form=form)
        )
    batch.run(cases)
    batch.assert_clean()


def _a_job(batch, selected) -> int:
    form = {"offline": "skip", "selection": fingerprint(selected)}
    result = batch.run_one(
        Case("bulk", "a job to attack", "POST", f"{BULK}?action=reboot", form=form)
    )
    assert result.status == 302, result.body[:500]
    return int(result.redirect.rstrip("/").rsplit("/", 1)[1])


def test_job_pages_query_strings_ids_and_forms(batch, selected):
    job = _a_job(batch, selected)
    cases = []
    for n, (label, value) in enumerate(query_values()):
        for page in ("", "csv"):
            pairs = [("state", value), ("page", value)] if n % 2 else [(value or "x", value)]
            path = f"/fleet/jobs/{job}/{page}" + query(pairs)
            headers = {"HX-Target": "job-live"} if n % 3 == 0 else {}
            cases.append(
                Case(
                    f"job {page or 'page'} query",
                    label,
                    "GET",
                    path,
                    read_only=True,
                    htmx=bool(headers),
                    headers=headers,
                )
            )
        cases.append(
            Case(
                "jobs list query",
                label,
                "GET",
                "/fleet/jobs/" + query([("page", value)]),
                read_only=True,
            )
        )
        for action in ("cancel", "retry"):
            form = (
                {"confirmed": value, "unknown": value}
                if n % 2
                else {"confirmed": "yes", "unknown": value}
            )
            cases.append(
                Case(
                    f"job {action} field",
                    label,
                    "POST",
                    f"/fleet/jobs/{job}/{action}/",
                    form=form,
                    htmx=n % 2 == 0,
                )
            )
    for label, number in [*NUMBERS, ("2^63", str(2**63)), ("negative", "-1")]:
        for page in ("", "csv", "cancel/", "retry/"):
            method = "POST" if page.endswith("/") else "GET"
            form = {"confirmed": "yes"} if method == "POST" else None
            cases.append(
                Case(
                    f"job id {page or 'page'}",
                    label,
                    method,
                    f"/fleet/jobs/{number}/{page}",
                    form=form,
                    read_only=method == "GET",
                )
            )
    batch.run(cases)
    batch.assert_clean()


def test_a_viewer_is_refused_each_bulk_write_once(batch, selected):
    job = _a_job(batch, selected)
    cases = [
        Case(
            "viewer bulk",
            action,
            "POST",
            f"{BULK}?action={action}",
            role="viewer",
            form={"offline": "skip"},
            refused=True,
        )
        for action in ("reboot", "ota", "wifi_reset", "button", "command", "tag_add", "tag_remove")
    ]
    cases += [
        Case(
            "viewer job",
            action,
            "POST",
            f"/fleet/jobs/{job}/{action}/",
            role="viewer",
            form={"confirmed": "yes"},
            refused=True,
        )
        for action in ("cancel", "retry")
    ]
    batch.run(cases)
    batch.assert_clean()
