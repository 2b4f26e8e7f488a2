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
        "SELECT sent, outcome, message FROM portal_auditevent WHERE action = 'sign-in'"
    )
    sent = [json.loads(s) if isinstance(s, str) else s for s, _, _ in rows]
    ghosts = sorted(s["username"] for s in sent if s["username"].startswith("ghost-"))
    assert ghosts == [f"ghost-{i:02d}" for i in range(ATTEMPTS)]
    assert {(o, m) for _, o, m in rows} >= {("refused", "Wrong username or password.")}
    assert all("not-the-password" not in json.dumps(s) for s in sent)
