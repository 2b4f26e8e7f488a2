"""The "My API token" page: each user enters their own token, when the admin allows it."""

from __future__ import annotations

from django.urls import reverse

from emulator.pytest_plugin import TOKEN_B
from portal.models import ApiToken, AuditEvent
from portal.roles import Role
from tests.conftest import make_user

URL = reverse("team:my_token")


def test_it_is_turned_off_by_default_and_hidden_from_the_menu(as_viewer):
    response = as_viewer.get(URL)
    assert response.status_code == 403
    assert "Entering your own API token is turned off here." in response.content.decode()
    assert "My API token" not in as_viewer.get(reverse("team:my_activity")).content.decode()
    response = as_viewer.post(URL, {"value": TOKEN_B})
    assert response.status_code == 403 and not ApiToken.objects.filter(personal_for__isnull=False)
    assert AuditEvent.objects.filter(action="token.self", outcome="refused").exists()


def test_a_user_enters_their_own_token_and_works_with_it(client, db, emulator, settings):
    settings.PORTAL_ALLOW_SELF_TOKEN = True
    user = make_user("newcomer", Role.VIEWER)
    client.force_login(user)
    assert "No API token is mapped to your account yet." in client.get(URL).content.decode()
    response = client.post(URL, {"value": TOKEN_B}, follow=True)
    body = response.content.decode()
    token = ApiToken.objects.get(personal_for=user)
    assert token.label == "newcomer (own token)" and token.verified_ok is True
    assert user.portal_profile.token == token
    assert "the token you entered" in body and f"…{TOKEN_B[-4:]}" in body
    assert TOKEN_B not in body
    assert "My API token" in body  # in the menu now
    devices = client.get(reverse("devices:list")).content.decode()
    assert "espressif" in devices
    entry = AuditEvent.objects.get(action="token.self")
    assert entry.username == "newcomer" and entry.sent["verified"] == "ok"


def test_entering_it_again_replaces_the_same_personal_token(client, users, emulator, settings):
    settings.PORTAL_ALLOW_SELF_TOKEN = True
    client.force_login(users["operator"])
    client.post(URL, {"value": "first-value-aaaa"})
    client.post(URL, {"value": TOKEN_B})
    assert ApiToken.objects.filter(personal_for=users["operator"]).count() == 1
    token = ApiToken.objects.get(personal_for=users["operator"])
    assert token.value() == TOKEN_B and token.verified_ok is True
    # The shared team token stays for the others.
    assert ApiToken.objects.get(label="Team A").profiles.count() == 4


def test_a_label_taken_by_an_admin_token_gets_a_number(client, db, emulator, settings):
    from portal import services

    settings.PORTAL_ALLOW_SELF_TOKEN = True
    services.save_token("sam (own token)", "something-else-1111")
    client.force_login(make_user("sam", Role.VIEWER))
    client.post(URL, {"value": TOKEN_B})
    assert ApiToken.objects.get(personal_for__username="sam").label == "sam (own token) (2)"


def test_an_empty_value_is_refused(client, users, settings):
    settings.PORTAL_ALLOW_SELF_TOKEN = True
    client.force_login(users["viewer"])
    response = client.post(URL, {"value": ""})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert AuditEvent.objects.filter(action="token.self", outcome="refused").exists()
