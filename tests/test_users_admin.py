"""The users pages: create, role and token, deactivate and reactivate, reset a password."""

from __future__ import annotations

import html
import re

from django.contrib.auth.models import User
from django.urls import reverse

from portal.models import AuditEvent
from portal.roles import Role, role_of
from tests.conftest import PASSWORD

GOOD = "plenty-long-passphrase-7"


def last(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).first()


def test_the_list_shows_each_user_with_role_token_and_state(as_admin, users):
    users["nobody"].is_active = False
    users["nobody"].save()
    body = as_admin.get(reverse("team:users")).content.decode()
    for role in ("Viewer", "Operator", "Maintainer", "Admin", "No role", "Team A", "Deactivated"):
        assert role in body


def test_an_admin_creates_a_user_who_can_sign_in(as_admin, token_a, client):
    response = as_admin.post(
        reverse("team:user_add"),
        {
            "username": "dana",
            "role": "operator",
            "token": token_a.pk,
            "password1": GOOD,
            "password2": GOOD,
        },
    )
    dana = User.objects.get(username="dana")
    assert response.status_code == 302
    assert role_of(dana) == Role.OPERATOR and dana.portal_profile.token == token_a
    assert last("user.create").sent == {"username": "dana", "role": "operator", "token": "Team A"}
    assert GOOD not in str(list(AuditEvent.objects.values()))
    as_admin.post(reverse("logout"))
    signed_in = as_admin.post(reverse("login"), {"username": "dana", "password": GOOD})
    assert signed_in.status_code == 302


def test_django_password_validators_refuse_a_weak_password_and_keep_the_other_fields(
    as_admin, token_a
):
    response = as_admin.post(
        reverse("team:user_add"),
        {
            "username": "erin",
            "role": "viewer",
            "token": token_a.pk,
            "password1": "12345678",
            "password2": "12345678",
        },
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "This password is too common." in body
    assert "This password is entirely numeric." in body
    assert 'value="erin"' in body and "12345678" not in body
    assert f'<option value="{token_a.pk}" selected>' in body
    assert not User.objects.filter(username="erin").exists()
    assert last("user.create").outcome == "refused"


def test_a_taken_username_is_refused(as_admin, users):
    response = as_admin.post(
        reverse("team:user_add"),
        {"username": "Viewer", "role": "", "password1": GOOD, "password2": GOOD},
    )
    assert response.status_code == 400
    assert "A user with that username already exists." in response.content.decode()


def test_an_admin_changes_a_users_role_and_token(as_admin, users, token_b):
    url = reverse("team:user_access", args=[users["viewer"].pk])
    response = as_admin.post(url, {"role": "maintainer", "token": token_b.pk})
    viewer = User.objects.get(pk=users["viewer"].pk)
    assert response.status_code == 302
    assert role_of(viewer) == Role.MAINTAINER and viewer.portal_profile.token == token_b
    assert last("user.change").sent == {
        "username": "viewer",
        "role": "maintainer",
        "previous_role": "viewer",
        "token": "Team B",
    }


def test_an_admin_cannot_demote_themselves(as_admin, users):
    response = as_admin.post(reverse("team:user_access", args=[users["admin"].pk]), {"role": ""})
    assert response.status_code == 400
    assert "You cannot take the admin role from yourself." in response.content.decode()
    assert role_of(User.objects.get(pk=users["admin"].pk)) == Role.ADMIN


def test_deactivating_asks_first_then_signs_the_user_out(as_admin, users, client):
    from django.test import Client

    other = Client()
    other.force_login(users["viewer"])
    url = reverse("team:user_active", args=[users["viewer"].pk])
    asked = as_admin.post(url, {"active": "no"})
    assert "Please confirm" in asked.content.decode()
    assert User.objects.get(pk=users["viewer"].pk).is_active
    as_admin.post(url, {"active": "no", "confirmed": "yes"})
    assert not User.objects.get(pk=users["viewer"].pk).is_active
    assert other.get(reverse("devices:list")).status_code == 302  # signed out
    assert (
        Client().post(reverse("login"), {"username": "viewer", "password": PASSWORD}).status_code
        == 200
    )
    assert last("user.deactivate").sent == {"username": "viewer"}
    as_admin.post(url, {"active": "yes"})
    assert User.objects.get(pk=users["viewer"].pk).is_active
    assert last("user.reactivate").outcome == "ok"


def test_an_admin_cannot_deactivate_themselves(as_admin, users):
    url = reverse("team:user_active", args=[users["admin"].pk])
    as_admin.post(url, {"active": "no", "confirmed": "yes"})
    assert User.objects.get(pk=users["admin"].pk).is_active
    assert last("user.deactivate").outcome == "refused"


def test_an_admin_resets_a_password_and_ends_the_users_sessions(as_admin, users):
    from django.test import Client

    other = Client()
    other.force_login(users["operator"])
    url = reverse("team:user_password", args=[users["operator"].pk])
    weak = as_admin.post(url, {"password1": "operator", "password2": "operator"})
    assert weak.status_code == 400
    assert "too similar to the username" in weak.content.decode()
    response = as_admin.post(url, {"password1": GOOD, "password2": GOOD})
    assert response.status_code == 302
    assert User.objects.get(pk=users["operator"].pk).check_password(GOOD)
    assert other.get(reverse("devices:list")).status_code == 302  # signed out
    entry = last("user.password")
    assert entry.outcome == "ok" and entry.sent == {"username": "operator"}
    assert GOOD not in str(entry.sent) + entry.message


def test_an_admin_resetting_their_own_password_stays_signed_in(as_admin, users):
    as_admin.post(
        reverse("team:user_password", args=[users["admin"].pk]),
        {"password1": GOOD, "password2": GOOD},
    )
    assert as_admin.get(reverse("team:users")).status_code == 200


def test_the_menu_shows_the_team_pages_only_to_admins(as_admin, client, users):
    admin_page = as_admin.get(reverse("team:my_activity")).content.decode()
    for link in ("Tokens", "Users", "Audit log", "My activity"):
        assert f">{link}</a>" in admin_page
    client.force_login(users["maintainer"])
    page = client.get(reverse("team:my_activity")).content.decode()
    assert ">My activity</a>" in page
    for link in ("Tokens", "Users", "Audit log"):
        assert f">{link}</a>" not in page


def test_creating_a_user_requires_a_role(as_admin, token_a):
    response = as_admin.post(
        reverse("team:user_add"),
        {"username": "frank", "role": "", "token": token_a.pk, "password1": GOOD,
         "password2": GOOD},
    )  # fmt: skip
    assert response.status_code == 400
    assert "Choose a role: a user without one can open no page." in html.unescape(
        response.content.decode()
    )
    assert not User.objects.filter(username="frank").exists()
    assert last("user.create").outcome == "refused"
    form = as_admin.get(reverse("team:user_add")).content.decode()
    assert '<option value="" selected>Choose a role</option>' in form
    assert ">No role</option>" not in form


def test_the_form_warns_about_a_user_without_a_token_and_the_list_flags_them(as_admin, users):
    form = as_admin.get(reverse("team:user_add")).content.decode()
    warning = re.search(r'<div class="alert alert-warning" id="no-token-warning"[^>]*>', form)
    assert warning and " hidden" not in warning.group(0)  # no token chosen yet: shown
    assert 'data-warn-empty="no-token-warning"' in form
    response = as_admin.post(
        reverse("team:user_add"),
        {"username": "gina", "role": "viewer", "password1": GOOD, "password2": GOOD},
    )
    gina = User.objects.get(username="gina")
    assert response.status_code == 302
    flashed = html.unescape(as_admin.get(response["Location"]).content.decode())
    assert "Created gina. Without an API token this user sees no devices" in flashed
    listing = as_admin.get(reverse("team:users")).content.decode()
    row = re.search(rf'href="/users/{gina.pk}/".*?</tr>', listing, re.S).group(0)
    assert "No token" in row
    viewer_row = re.search(rf'href="/users/{users["viewer"].pk}/".*?</tr>', listing, re.S)
    assert "No token" not in viewer_row.group(0) and "Team A" in viewer_row.group(0)


def test_the_warning_is_hidden_on_the_form_of_a_user_with_a_token(as_admin, users):
    page = as_admin.get(reverse("team:user_detail", args=[users["viewer"].pk])).content.decode()
    warning = re.search(r'<div class="alert alert-warning" id="no-token-warning"[^>]*>', page)
    assert " hidden" in warning.group(0)


def test_a_user_with_no_role_sees_one_page_saying_so_with_sign_out(client, users):
    client.force_login(users["nobody"])
    for url in (reverse("home"), reverse("devices:list")):
        response = client.get(url, follow=True)
        body = html.unescape(response.content.decode())
        assert response.status_code == 403
        assert "Your account has no role yet: ask an admin" in body
        assert 'action="/logout/"' in body and ">Sign out</button>" in body
        assert 'href="/devices/"' not in body  # no link back into the same refusal
