"""Sign-ins, failed sign-ins, lockouts and sign-outs: recorded, and the lockout holds."""

from __future__ import annotations

from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.urls import reverse

from portal.models import AuditEvent
from tests.conftest import PASSWORD

LOGIN = reverse("login")
WRONG = "not-the-password-123"
GENERIC = "Please enter a correct username and password."
PAUSED = "Too many failed sign-ins from this address for this username."


def sign_in(client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def test_a_sign_in_and_a_sign_out_are_recorded(client, users):
    assert sign_in(client, "operator", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    signed_in = AuditEvent.objects.get(action="auth.sign_in", username="operator")
    assert signed_in.outcome == "ok" and signed_in.ip == "127.0.0.1"
    assert signed_in.token_label == "Team A"
    assert AuditEvent.objects.filter(action="auth.sign_out", username="operator").exists()


def test_a_failed_sign_in_is_recorded_without_the_password(client, users):
    response = sign_in(client, "viewer", WRONG)
    assert GENERIC in response.content.decode()
    failed = AuditEvent.objects.get(action="auth.sign_in_failed")
    assert failed.username == "viewer" and failed.outcome == "refused" and failed.user is None
    assert failed.message == "Wrong username or password."
    assert WRONG not in str(list(AuditEvent.objects.values()))
    assert WRONG not in str(list(AccessAttempt.objects.values()))


def test_the_answer_is_the_same_whether_or_not_the_username_exists(client, users):
    known = sign_in(client, "viewer", WRONG)
    unknown = sign_in(client, "no-such-person", WRONG)
    assert known.status_code == unknown.status_code == 200
    assert GENERIC in known.content.decode() and GENERIC in unknown.content.decode()


def test_the_sixth_attempt_is_refused_even_with_the_right_password_until_the_cool_off_ends(
    client, users
):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    answers = [sign_in(client, "maintainer", WRONG) for _ in range(5)]
    assert [a.status_code for a in answers[:4]] == [200] * 4
    assert PAUSED in answers[4].content.decode()  # the fifth failure locks
    sixth = sign_in(client, "maintainer", PASSWORD)
    assert sixth.status_code == 429 and PAUSED in sixth.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="auth.lockout", username="maintainer").exists()
    # Another username from the same address is not locked.
    assert sign_in(client, "operator", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    # Move the failures back past the 15 minutes of cool-off.
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    assert sign_in(client, "maintainer", PASSWORD).status_code == 302


def test_a_lockout_reads_the_same_for_an_unknown_username(client, users):
    for _ in range(5):
        sign_in(client, "maintainer", WRONG)
        sign_in(client, "ghost-user", WRONG)
    known = sign_in(client, "maintainer", PASSWORD)
    unknown = sign_in(client, "ghost-user", PASSWORD)
    assert known.status_code == unknown.status_code == 429
    assert PAUSED in known.content.decode() and PAUSED in unknown.content.decode()


def test_a_name_no_account_can_have_is_refused_before_it_is_tried(client, users):
    # Django never checks the username's max_length; django-axes' attempt row holds 255
    # characters and PostgreSQL refused the longer one with a 500.
    for name in ("9" * 5_000, "ad\x00min", "x" * 151):
        response = sign_in(client, name, "wrong")
        assert response.status_code == 200
        assert "No account has a name like that" in response.content.decode()
    assert not AccessAttempt.objects.exists()
