"""Behind PORTAL_PROXY_COUNT proxies, lockouts and the audit log use the client's own address."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from axes.models import AccessAttempt
from django.test import Client, RequestFactory
from django.urls import reverse

from portal.models import AuditEvent
from portal.proxy import client_address
from tests.conftest import PASSWORD

LOGIN = reverse("login")
WRONG = "not-the-password-123"
PROXY = "10.0.0.2"  # the reverse proxy: every request reaches the portal from it
MALLORY = "203.0.113.5"
ALICE = "198.51.100.7"


def through_proxy(client: Client, username: str, password: str, forwarded_for: str):
    """A sign-in as the proxy passes it on: from the proxy, with the header it appended to."""
    return client.post(
        LOGIN,
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def address(forwarded_for: str | None, remote: str = PROXY) -> str | None:
    headers = {"REMOTE_ADDR": remote}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client_address(RequestFactory().get("/", **headers))


def test_behind_one_proxy_five_failures_lock_out_only_the_client_that_made_them(users, settings):
    settings.PORTAL_PROXY_COUNT = 1
    mallory, alice = Client(), Client()
    for _ in range(5):
        through_proxy(mallory, "admin", WRONG, MALLORY)
    assert through_proxy(mallory, "admin", PASSWORD, MALLORY).status_code == 429
    # The admin, from another address behind the same proxy, is not locked out.
    assert through_proxy(alice, "admin", PASSWORD, ALICE).status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {MALLORY}
    failed = AuditEvent.objects.filter(action="auth.sign_in_failed")
    assert set(failed.values_list("ip", flat=True)) == {MALLORY}
    lockouts = AuditEvent.objects.filter(action="auth.lockout")
    assert lockouts.exists() and set(lockouts.values_list("ip", flat=True)) == {MALLORY}
    assert AuditEvent.objects.get(action="auth.sign_in").ip == ALICE


def test_behind_one_proxy_a_client_cannot_claim_another_address_to_escape_its_lockout(
    users, settings
):
    settings.PORTAL_PROXY_COUNT = 1
    mallory = Client()
    for _ in range(5):
        through_proxy(mallory, "operator", WRONG, MALLORY)
    # Mallory writes Alice's address into the header; the proxy appends Mallory's real one.
    forged = through_proxy(mallory, "operator", PASSWORD, f"{ALICE}, {MALLORY}")
    assert forged.status_code == 429
    assert "_auth_user_id" not in mallory.session
    assert set(AuditEvent.objects.values_list("ip", flat=True)) == {MALLORY}


def test_with_no_proxy_a_forged_header_changes_neither_the_address_nor_the_lockout(users, settings):
    settings.PORTAL_PROXY_COUNT = 0
    mallory = Client()
    for n in range(5):
        mallory.post(
            LOGIN,
            {"username": "viewer", "password": WRONG},
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n + 1}",
        )
    escaped = mallory.post(
        LOGIN, {"username": "viewer", "password": PASSWORD}, HTTP_X_FORWARDED_FOR=ALICE
    )
    assert escaped.status_code == 429
    assert set(AuditEvent.objects.values_list("ip", flat=True)) == {"127.0.0.1"}
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


@pytest.mark.parametrize(
    ("count", "forwarded_for", "expected"),
    [
        (0, "198.51.100.7", PROXY),
        (1, None, PROXY),  # not through the proxy: a probe straight to the portal's port
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "192.0.2.1, 192.0.2.2, 198.51.100.7", "198.51.100.7"),
        # Two proxies: the first appended the client, the second the first proxy.
        (2, "198.51.100.7, 10.0.0.9", "198.51.100.7"),
        (2, "192.0.2.1, 198.51.100.7, 10.0.0.9", "198.51.100.7"),
        (2, "198.51.100.7", "198.51.100.7"),  # fewer hops than configured: the furthest known
        (1, "198.51.100.7:51234", "198.51.100.7"),
        (1, "[2001:DB8::1]:443", "2001:db8::1"),
        (1, "2001:db8:0::7", "2001:db8::7"),
        (1, "fe80::1%eth0", "fe80::1"),
        (1, "192.0.2.1, not-an-address", PROXY),  # a broken proxy: the peer is what is real
        (1, " , ,198.51.100.7, ", "198.51.100.7"),
    ],
)
def test_the_address_is_the_one_the_first_proxy_saw(settings, count, forwarded_for, expected):
    settings.PORTAL_PROXY_COUNT = count
    assert address(forwarded_for) == expected


def test_a_peer_without_an_address_gives_none(settings):
    settings.PORTAL_PROXY_COUNT = 0
    assert address(None, remote="") is None
    settings.PORTAL_PROXY_COUNT = 1
    assert address("unknown", remote="") is None


def test_the_environment_variable_reaches_the_lockout():
    """PORTAL_PROXY_COUNT, read at start, is what django-axes uses for the lockout's address."""
    script = (
        "import django; django.setup()\n"
        "from axes.helpers import get_client_ip_address\n"
        "from django.test import RequestFactory\n"
        "request = RequestFactory().get('/', REMOTE_ADDR='10.0.0.2',"
        " HTTP_X_FORWARDED_FOR='192.0.2.1, 198.51.100.7')\n"
        "print(get_client_ip_address(request))\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PORTAL_"))}

    def run(count: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", script],
            env={**clean, "DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_PROXY_COUNT": count},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert run("1") == "198.51.100.7"
    assert run("0") == "10.0.0.2"
