"""A write is visible on the next read from any worker of any instance.

Each worker of the SQLite instance has its own local-memory cache, so the read cache's
generation lives in the database there; with Redis it lives in Redis. Either way a rename
clears every worker's cached reads at once.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from emulator.pytest_plugin import TOKEN_A
from portal import form_keys
from tests.multi.deployment import PASSWORD, SECRET_KEY, post_login

pytestmark = pytest.mark.multi

READS = 8


def _list_reads(emulator) -> int:
    return sum(1 for e in emulator.request_log if e["path"] == "/v1/user/devices")


def _read_lists(deployment, cookies) -> list[str]:
    """READS device lists at once, each on a new connection, so they spread over the workers."""

    def read(i: int) -> str:
        return requests.get(
            f"{deployment.instance(i)}/devices/",
            cookies=cookies,
            headers={"Connection": "close"},
            timeout=20,
        ).text

    with ThreadPoolExecutor(READS) as pool:
        return list(pool.map(read, range(READS)))


def test_a_rename_is_seen_by_every_read_after_it(deployment, emulator):
    session, url = requests.Session(), deployment.instance(0)
    assert post_login(session, url, "dave", PASSWORD).status_code == 302
    uid = emulator.device_uid(TOKEN_A, "Garage Door")
    emulator.set_latency(150)  # each worker's read is in flight while the others arrive
    emulator.clear_log()
    for _ in range(10):  # until every worker's cache holds the list with the old name
        assert all("Garage Door" in page for page in _read_lists(deployment, session.cookies))
        if _list_reads(emulator) >= deployment.caches:
            break
    assert _list_reads(emulator) == deployment.caches
    emulator.set_latency(0)
    renamed = session.post(
        f"{url}/devices/{uid}/rename/",
        data={"name": "Carport Door", "form_key": form_keys.new(SECRET_KEY)},
        headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{url}/devices/"},
        allow_redirects=False,
        timeout=20,
    )
    assert renamed.status_code == 302
    pages = _read_lists(deployment, session.cookies) + _read_lists(deployment, session.cookies)
    assert [i for i, page in enumerate(pages) if "Carport Door" not in page] == []
