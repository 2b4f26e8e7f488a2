"""Audit entries written by every instance at once all land in the one log."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.multi.deployment import post_login

pytestmark = pytest.mark.multi

ATTEMPTS = 24


def _failed_sign_in(deployment, i: int) -> int:
    return post_login(
        requests.Session(), deployment.instance(i), f"ghost-{i:02d}", "not-the-password"
    ).status_code


def test_concurrent_refusals_on_both_instances_are_all_recorded_once(deployment):
    with ThreadPoolExecutor(ATTEMPTS) as pool:
        statuses = list(pool.map(lambda i: _failed_sign_in(deployment, i), range(ATTEMPTS)))
    assert statuses == [200] * ATTEMPTS
    rows = deployment.query(
        "SELECT username, sent, outcome, message FROM portal_auditevent "
        "WHERE action = 'auth.sign_in_failed'"
    )
    ghosts = sorted(u for u, _, _, _ in rows if u.startswith("ghost-"))
    assert ghosts == [f"ghost-{i:02d}" for i in range(ATTEMPTS)]
    assert {(o, m) for _, _, o, m in rows} == {("refused", "Wrong username or password.")}
    assert all("not-the-password" not in json.dumps([u, s]) for u, s, _, _ in rows)
