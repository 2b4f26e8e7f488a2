"""A failed sign-in is a refused attempt, and goes to the audit log like any other."""

from __future__ import annotations

from portal.models import AuditEvent
from tests.conftest import PASSWORD


def _sign_in(client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password})


def test_a_wrong_password_is_recorded_with_the_typed_name_but_not_the_password(client, users):
    _sign_in(client, "viewer", "guess-number-one")
    event = AuditEvent.objects.get(action="sign-in")
    assert event.outcome == AuditEvent.Outcome.REFUSED
    assert event.sent == {"username": "viewer"}
    assert event.message == "Wrong username or password."
    assert event.ip == "127.0.0.1"
    assert "guess-number-one" not in str(vars(event))


def test_an_unknown_username_is_recorded_too(client, users):
    _sign_in(client, "mallory", "whatever-it-is")
    assert AuditEvent.objects.get(action="sign-in").sent == {"username": "mallory"}


def test_a_successful_sign_in_records_nothing(client, users):
    response = _sign_in(client, "viewer", PASSWORD)
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action="sign-in").exists()


def test_attempts_during_a_lockout_are_recorded_as_such(client, users):
    for _ in range(5):
        _sign_in(client, "operator", "wrong-password")
    response = _sign_in(client, "operator", PASSWORD)
    assert response.status_code == 429
    messages = list(
        AuditEvent.objects.filter(action="sign-in").order_by("id").values_list("message", flat=True)
    )
    # The fifth failure is the one that locks; the right password after it is refused too.
    assert messages[:4] == ["Wrong username or password."] * 4
    assert messages[4:] == ["Locked out after too many failed sign-ins."] * 2
