"""The sign-in lockout (5 failures) counts failures made on every instance together."""

from __future__ import annotations

import pytest
import requests

from tests.multi.deployment import PASSWORD, is_signed_in, post_login

pytestmark = pytest.mark.multi


def test_five_failures_spread_over_the_instances_lock_the_account_on_all_of_them(deployment):
    session = requests.Session()
    for attempt in range(5):
        refused = post_login(session, deployment.instance(attempt), "bob", "wrong-password")
        assert refused.status_code in (200, 429)
    locked = post_login(session, deployment.instance(5), "bob", PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text
    assert not is_signed_in(session, deployment.instance(0))
    assert not is_signed_in(session, deployment.instance(1))


def test_four_failures_spread_over_the_instances_do_not_lock_the_account(deployment):
    session = requests.Session()
    for attempt in range(4):
        refused = post_login(session, deployment.instance(attempt), "carol", "wrong-password")
        assert refused.status_code == 200
        assert "Please enter a correct username" in refused.text
    accepted = post_login(session, deployment.instance(4), "carol", PASSWORD)
    assert accepted.status_code == 302
    assert is_signed_in(session, deployment.instance(1))
