"""Paused sign-ins on the Users page: who, from which address, since when and until when; an
admin lifts one there (confirmed, through the one write path, audited); the sign-in page says
how long a pause lasts."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.models import AuditEvent
from tests.conftest import PASSWORD

WRONG = "not-the-password-123"
MALLORY = "203.0.113.5"


def lock_out(username: str, ip: str = MALLORY, times: int = 5) -> Client:
    client = Client(REMOTE_ADDR=ip)
    for _ in range(times):
        client.post(reverse("login"), {"username": username, "password": WRONG})
    return client


def lockout_rows(body: str) -> list[str]:
    table = re.search(r'id="lockouts-heading".*?</section>', body, re.S).group(0)
    return re.findall(r"<tr>\s*<td.*?</tr>", table, re.S)


def test_the_sign_in_page_says_how_long_the_pause_lasts_and_that_trying_restarts_it(
    client, users, settings
):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=30)
    answer = lock_out("operator").post(
        reverse("login"), {"username": "operator", "password": PASSWORD}
    )
    body = html.unescape(answer.content.decode())
    assert answer.status_code == 429
    assert "Sign-in is paused for 30 minutes, even with the right password." in body
    assert "Every attempt during the pause starts the 30 minutes again" in body


def test_the_users_page_lists_who_is_paused_from_where_since_and_until_when(as_admin, users):
    before = timezone.now()
    lock_out("operator")
    lock_out("ghost-user", ip="198.51.100.9")
    body = html.unescape(as_admin.get(reverse("team:users")).content.decode())
    rows = lockout_rows(body)
    assert len(rows) == 2
    operator = next(row for row in rows if ">operator<" in row)
    assert MALLORY in operator and ">5<" in operator
    since, until = re.findall(r'<time datetime="([^"]+)"', operator)
    lockout = AuditEvent.objects.filter(action="auth.lockout", username="operator").last()
    assert since == timezone.localtime(lockout.at).isoformat()
    attempt = AccessAttempt.objects.get(username="operator")
    assert until == timezone.localtime(attempt.attempt_time + timedelta(minutes=15)).isoformat()
    assert attempt.attempt_time >= before
    assert "starts the 15 minutes again" in body and "(if nobody tries again)" in body


def test_an_attempt_during_the_pause_moves_until_but_not_since(as_admin, users):
    client = lock_out("operator")
    first = AccessAttempt.objects.get(username="operator").attempt_time
    AccessAttempt.objects.update(attempt_time=first - timedelta(minutes=5))
    [event] = AuditEvent.objects.filter(action="auth.lockout", username="operator")
    client.post(reverse("login"), {"username": "operator", "password": PASSWORD})  # refused
    body = as_admin.get(reverse("team:users")).content.decode()
    since, until = re.findall(r'<time datetime="([^"]+)"', lockout_rows(body)[0])
    assert since == timezone.localtime(event.at).isoformat()
    latest = AccessAttempt.objects.get(username="operator").attempt_time
    assert latest > first
    assert until == timezone.localtime(latest + timedelta(minutes=15)).isoformat()


def test_an_ended_pause_is_not_listed(as_admin, users):
    lock_out("operator")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    body = as_admin.get(reverse("team:users")).content.decode()
    assert lockout_rows(body) == [] and "No sign-in is paused now." in body


def test_an_admin_lifts_a_pause_after_confirming_and_it_is_audited(as_admin, users):
    client = lock_out("operator")
    url = reverse("team:lockout_lift")
    asked = as_admin.post(url, {"username": "operator", "ip": MALLORY})
    assert "Lift the sign-in pause for “operator” from 203.0.113.5?" in html.unescape(
        asked.content.decode()
    )
    assert AccessAttempt.objects.exists()
    assert not AuditEvent.objects.filter(action="auth.lockout_lift").exists()
    done = as_admin.post(url, {"username": "operator", "ip": MALLORY, "confirmed": "yes"})
    assert done.status_code == 302 and done["Location"] == reverse("team:users")
    [entry] = AuditEvent.objects.filter(action="auth.lockout_lift")
    assert entry.outcome == "ok" and entry.username == "admin"
    assert entry.sent == {"username": "operator", "ip": MALLORY}
    assert not AccessAttempt.objects.filter(username="operator").exists()
    signed_in = client.post(reverse("login"), {"username": "operator", "password": PASSWORD})
    assert signed_in.status_code == 302


def test_lifting_one_pause_leaves_the_others(as_admin, users):
    lock_out("operator")
    lock_out("operator", ip="198.51.100.9")
    as_admin.post(
        reverse("team:lockout_lift"),
        {"username": "operator", "ip": MALLORY, "confirmed": "yes"},
    )
    left = AccessAttempt.objects.values_list("ip_address", flat=True)
    assert list(left) == ["198.51.100.9"]


def test_lifting_a_pause_that_has_ended_is_refused_and_recorded_once(as_admin, users):
    before = AuditEvent.objects.count()
    response = as_admin.post(
        reverse("team:lockout_lift"),
        {"username": "operator", "ip": MALLORY, "confirmed": "yes"},
        follow=True,
    )
    assert "is no longer paused" in html.unescape(response.content.decode())
    assert AuditEvent.objects.count() == before + 1
    assert AuditEvent.objects.get(action="auth.lockout_lift").outcome == "refused"


def test_a_lift_for_a_malformed_address_is_refused_before_anything(as_admin, users):
    lock_out("operator")
    as_admin.post(
        reverse("team:lockout_lift"),
        {"username": "operator", "ip": "not-an-ip", "confirmed": "yes"},
    )
    assert AccessAttempt.objects.exists()
    assert AuditEvent.objects.get(action="auth.lockout_lift").outcome == "refused"


def test_a_pause_started_after_an_earlier_lift_dates_from_its_own_first_lockout(as_admin, users):
    lock_out("operator")
    as_admin.post(
        reverse("team:lockout_lift"),
        {"username": "operator", "ip": MALLORY, "confirmed": "yes"},
    )
    lock_out("operator")
    second = AuditEvent.objects.filter(action="auth.lockout", username="operator").first()
    body = as_admin.get(reverse("team:users")).content.decode()
    since, _ = re.findall(r'<time datetime="([^"]+)"', lockout_rows(body)[0])
    assert since == timezone.localtime(second.at).isoformat()
