"""The running instances log one JSON object per line: requests, upstream calls, gunicorn."""

from __future__ import annotations

import time

import pytest
import requests

from emulator.pytest_plugin import TOKEN_A
from tests.multi.deployment import PASSWORD, post_login

pytestmark = pytest.mark.multi


def test_every_line_is_json_and_carries_the_request_and_its_upstream_call(deployment, emulator):
    session = requests.Session()
    post_login(session, deployment.instance(0), "alice", "a-wrong-password")
    post_login(session, deployment.instance(0), "alice", PASSWORD)
    # Outlast any read another test left in the shared cache, so this page makes its own call.
    time.sleep(float(deployment.env["PORTAL_READ_CACHE_SECONDS"]) + 1)
    emulator.clear_log()
    page = session.get(
        f"{deployment.instance(1)}/devices/", headers={"X-Request-ID": "trace-me-42"}, timeout=15
    )
    assert page.status_code == 200
    assert page.headers["X-Request-ID"] == "trace-me-42"
    assert emulator.request_log  # this page's own read reached the upstream
    entries = deployment.log_entries()  # raises on any line that isn't one JSON object
    ours = [e for e in entries if e.get("request_id") == "trace-me-42"]
    requests_logged = [e for e in ours if "status" in e]
    upstream_calls = [e for e in ours if "upstream_status" in e]
    assert len(requests_logged) == 1 and len(upstream_calls) == len(emulator.request_log), ours
    request, upstream = requests_logged[0], upstream_calls[0]
    assert request["user"] == "alice"
    assert (request["method"], request["path"], request["status"]) == ("GET", "/devices/", 200)
    assert isinstance(request["duration_ms"], float)
    assert upstream["upstream_endpoint"] == "devices.list"
    assert upstream["upstream_status"] == 200
    assert upstream["upstream_ms"] >= 0
    assert any(e["logger"] == "gunicorn.error" for e in entries)


def test_no_line_holds_a_token_or_a_password(deployment):
    session = requests.Session()
    session.headers["X-Request-ID"] = "scan-failed-sign-in"
    post_login(session, deployment.instance(0), "alice", "a-wrong-password")
    session.headers["X-Request-ID"] = "scan-sign-in"
    post_login(session, deployment.instance(1), "alice", PASSWORD)
    session.headers["X-Request-ID"] = "scan-devices"
    session.get(f"{deployment.instance(1)}/devices/", timeout=15)
    # The lines searched are there: those of each request above (an empty log finds nothing).
    logged = {e.get("request_id") for e in deployment.log_entries() if "status" in e}
    assert {"scan-failed-sign-in", "scan-sign-in", "scan-devices"} <= logged
    text = "\n".join(path.read_text() for path in deployment.logs)
    for secret in (TOKEN_A, PASSWORD, "a-wrong-password", deployment.env["PORTAL_TOKEN_KEYS"]):
        assert secret not in text
    assert deployment.env["DJANGO_SECRET_KEY"] not in text
