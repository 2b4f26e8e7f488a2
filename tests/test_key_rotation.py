"""Key rotation: `manage.py rotate_token_keys`, and a missing key at run time."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A, TOKEN_B
from portal import services
from portal.models import ApiToken, AuditEvent
from portal.roles import Role
from tests.conftest import make_user

OLD, NEW, LOST = (Fernet.generate_key().decode() for _ in range(3))
UNREADABLE = "“Old key team” cannot be read with the portal"


@pytest.fixture
def team_on_old_key(db, settings):
    settings.PORTAL_TOKEN_KEYS = [OLD]
    token = services.save_token("Old key team", TOKEN_A)
    return token, make_user("worker", Role.MAINTAINER, token)


def test_tokens_under_an_old_key_work_after_rotation_with_only_the_new_key(
    client, team_on_old_key, settings, emulator, capsys
):
    token, worker = team_on_old_key
    before = token.ciphertext
    settings.PORTAL_TOKEN_KEYS = [NEW, OLD]
    call_command("rotate_token_keys")
    assert "Re-encrypted 1 token under the first key." in capsys.readouterr().out
    token.refresh_from_db()
    assert token.ciphertext != before
    settings.PORTAL_TOKEN_KEYS = [NEW]  # the old key is retired
    assert token.value() == TOKEN_A
    client.force_login(worker)
    assert "Greenhouse Sensor" in client.get(reverse("devices:list")).content.decode()
    assert Fernet(NEW.encode()).decrypt(token.ciphertext.encode()).decode() == TOKEN_A


def test_a_token_no_key_can_read_is_reported_by_label_and_left_untouched(team_on_old_key, settings):
    settings.PORTAL_TOKEN_KEYS = [LOST]
    lost = services.save_token("Lost key team", TOKEN_B)
    settings.PORTAL_TOKEN_KEYS = [NEW, OLD]
    with pytest.raises(CommandError, match="Lost key team"):
        call_command("rotate_token_keys")
    kept = ApiToken.objects.get(pk=lost.pk)
    assert kept.ciphertext == lost.ciphertext
    settings.PORTAL_TOKEN_KEYS = [NEW]
    assert ApiToken.objects.get(label="Old key team").value() == TOKEN_A  # the rest was done
    entry = AuditEvent.objects.get(action="token.rotate_keys")
    assert entry.outcome == "failed" and entry.sent == {
        "re_encrypted": 1,
        "unreadable": ["Lost key team"],
    }


def test_the_command_exits_with_a_non_zero_status_when_a_token_failed(team_on_old_key, settings):
    from portal.management.commands.rotate_token_keys import Command

    settings.PORTAL_TOKEN_KEYS = [NEW]
    with pytest.raises(SystemExit) as exited:
        Command().run_from_argv(["manage.py", "rotate_token_keys"])
    assert exited.value.code == 1


def test_a_missing_key_gives_users_of_that_token_a_clear_message(
    client, team_on_old_key, settings, emulator
):
    _, worker = team_on_old_key
    settings.PORTAL_TOKEN_KEYS = [NEW]
    client.force_login(worker)
    emulator.clear_log()
    response = client.get(reverse("devices:list"))
    assert response.status_code == 200 and UNREADABLE in response.content.decode()
    uid = emulator.device_uid(TOKEN_A, "Greenhouse Sensor")
    panel = client.get(reverse("firmware:panel", args=[uid]))
    assert panel.status_code == 200 and UNREADABLE in panel.content.decode()
    assert emulator.request_log == []


def test_the_vault_shows_an_unreadable_token_and_takes_a_new_value(
    client, team_on_old_key, settings, emulator
):
    token, _ = team_on_old_key
    settings.PORTAL_TOKEN_KEYS = [NEW]
    client.force_login(make_user("boss", Role.ADMIN))
    assert "Key missing" in client.get(reverse("team:tokens")).content.decode()
    detail = client.get(reverse("team:token_detail", args=[token.pk])).content.decode()
    assert "No configured key can decrypt this token." in detail
    client.post(reverse("team:token_verify", args=[token.pk]))
    token.refresh_from_db()
    assert token.verified_ok is None and "No configured key" in token.last_error
    client.post(reverse("team:token_replace", args=[token.pk]), {"value": TOKEN_A})
    token.refresh_from_db()
    assert token.value() == TOKEN_A and token.verified_ok is True
