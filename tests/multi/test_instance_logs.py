"""The running instances log one JSON object per line: requests, upstream calls, gunicorn."""

from __future__ import annotations

import pytest
import requests

from emulator.pytest_plugin import TOKEN_A
from tests.multi.deployment import PASSWORD, post_login

pytestmark = pytest.mark.multi


def test_every_line_is_json_and_carries_the_request_and_its_upstream_call(deployment, emulator):
    session = requests.Session()
    post_login(session, deployment.instance(0), "alice", "a-wrong-password")
    post_login(session, deployment.instance(0), "alice", PASSWORD)
    emulator.clear_log()
    page = session.get(
        f"{deployment.instance(1)}/devices/", headers={"X-Request-ID": "trace-me-42"}, timeout=15
    )
    assert page.headers["X-Request-ID"] == "trace-me-42"
    entries = deployment.log_entries()  # raises on any line that isn't one JSON object
    request = next(e for e in entries if e.get("request_id") == "trace-me-42" and "status" in e)
    assert request["user"] == "alice"
    assert (request["method"], request["path"], request["status"]) == ("GET", "/devices/", 200)
    assert isinstance(request["duration_ms"], float)
    if emulator.request_log:  # the read was this request's, not served from the cache
        upstream = next(
            e for e in entries if e.get("request_id") == "trace-me-42" and "upstream_status" in e
        )
        assert upstream["upstream_endpoint"] == "devices.list"
        assert upstream["upstream_status"] == 200
        assert upstream["upstream_ms"] >= 0
    assert any(e["logger"] == "gunicorn.error" for e in entries)


def test_no_line_holds_a_token_or_a_password(deployment):
    session = requests.Session()
    post_login(session, deployment.instance(0), "alice", "a-wrong-password")
    post_login(session, deployment.instance(1), "alice", PASSWORD)
    session.get(f"{deployment.instance(1)}/devices/", timeout=15)
    text = "\n".join(path.read_text() for path in deployment.logs)
    for secret in (TOKEN_A, PASSWORD, "a-wrong-password", deployment.env["PORTAL_TOKEN_KEYS"]):
        assert secret not in text
    assert deployment.env["DJANGO_SECRET_KEY"] not in text
