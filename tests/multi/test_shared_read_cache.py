"""Identical reads on one token are coalesced across instances: one upstream read per window.

With Redis, one read for every instance; with the local-memory cache, one per worker.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.multi.deployment import PASSWORD, post_login

pytestmark = pytest.mark.multi

WINDOW = 2.0  # PORTAL_READ_CACHE_SECONDS in tests/multi/deployment.py


def _list_reads(emulator) -> int:
    return sum(
        1
        for entry in emulator.request_log
        if entry["method"] == "GET" and entry["path"] == "/v1/user/devices" and entry["token_ok"]
    )


def _signed_in_sessions(deployment) -> list[tuple[requests.Session, str]]:
    """Two users on the team token, each signed in on each instance."""
    sessions = []
    for i, name in enumerate(("alice", "dave") * 2):
        session, url = requests.Session(), deployment.instance(i)
        assert post_login(session, url, name, PASSWORD).status_code == 302
        sessions.append((session, url))
    return sessions


def _fetch_all(sessions, per_session: int) -> list[requests.Response]:
    jobs = [(s, url) for s, url in sessions for _ in range(per_session)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(lambda job: job[0].get(f"{job[1]}/devices/", timeout=20), jobs))


def test_concurrent_device_lists_on_both_instances_make_one_upstream_read(deployment, emulator):
    sessions = _signed_in_sessions(deployment)
    time.sleep(WINDOW + 0.1)  # let any earlier test's cached list expire
    emulator.set_latency(300)  # long enough for every request to arrive while the read runs
    emulator.clear_log()
    responses = _fetch_all(sessions, per_session=3)
    assert [r.status_code for r in responses] == [200] * 12
    assert all("Kitchen Relay" in r.text for r in responses)
    assert 1 <= _list_reads(emulator) <= deployment.caches


def test_the_next_window_reads_the_upstream_once_more(deployment, emulator):
    sessions = _signed_in_sessions(deployment)
    emulator.clear_log()
    _fetch_all(sessions, per_session=1)
    before = _list_reads(emulator)  # 0 if the previous test's window was still open
    assert before <= deployment.caches
    time.sleep(WINDOW + 0.3)
    _fetch_all(sessions, per_session=2)
    assert 1 <= _list_reads(emulator) - before <= deployment.caches
