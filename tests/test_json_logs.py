"""Logs: one JSON object per line, with the request and its upstream calls; no secrets."""

from __future__ import annotations

import json

from emulator.pytest_plugin import TOKEN_A
from tests.conftest import PASSWORD


def _entries(lines: list[str]) -> list[dict]:
    entries = []
    for line in lines:
        assert "\n" not in line, "one line per entry"
        entries.append(json.loads(line))
    return entries


def test_a_request_line_carries_its_id_user_method_path_status_and_duration(
    as_viewer, emulator, log_lines
):
    response = as_viewer.get("/devices/", headers={"X-Request-ID": "req-123"})
    assert response["X-Request-ID"] == "req-123"
    request = next(e for e in _entries(log_lines) if e["logger"] == "portal.request")
    assert request["request_id"] == "req-123"
    assert request["user"] == "viewer"
    assert (request["method"], request["path"], request["status"]) == ("GET", "/devices/", 200)
    assert isinstance(request["duration_ms"], float)
    assert request["level"] == "INFO" and request["time"].endswith("+00:00")


def test_an_upstream_call_is_logged_with_its_endpoint_status_duration_and_request(
    as_viewer, emulator, log_lines
):
    as_viewer.get("/devices/", headers={"X-Request-ID": "req-456"})
    upstream = next(e for e in _entries(log_lines) if e["logger"] == "portal.iot")
    assert upstream["upstream_endpoint"] == "devices.list"
    assert upstream["upstream_method"] == "GET"
    assert upstream["upstream_status"] == 200
    assert upstream["upstream_ms"] >= 0
    assert upstream["request_id"] == "req-456"


def test_a_failed_upstream_call_is_logged_with_what_went_wrong(as_viewer, emulator, log_lines):
    emulator.set_fault("500")
    as_viewer.get("/devices/")
    statuses = [e["upstream_status"] for e in _entries(log_lines) if e["logger"] == "portal.iot"]
    assert statuses and set(statuses) == {500}


def test_no_line_holds_a_token_or_a_password(client, users, emulator, log_lines):
    client.post("/login/", {"username": "viewer", "password": "a-wrong-guess-77"})
    client.post("/login/", {"username": "viewer", "password": PASSWORD})
    client.get("/devices/")
    emulator.set_fault("429")
    client.get("/devices/")
    assert any(e["path"] == "/login/" for e in _entries(log_lines) if "path" in e)
    for line in log_lines:
        assert TOKEN_A not in line
        assert PASSWORD not in line and "a-wrong-guess-77" not in line
