"""The emulator's per-token throttle: N calls per window, then 429 with Retry-After."""

# ruff: noqa: F811

from __future__ import annotations

import time

import requests

from emulator.pytest_plugin import TOKEN_A, TOKEN_B, emulator, emulator_server  # noqa: F401
from emulator.server import Emulator


def get(emulator: Emulator, token: str = TOKEN_A) -> requests.Response:
    return requests.get(
        f"{emulator.url}/v1/user/devices",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=5,
    )


def test_a_token_past_its_calls_is_refused_with_429_and_retry_after(emulator: Emulator) -> None:
    emulator.set_throttle(3, window_seconds=30)
    assert [get(emulator).status_code for _ in range(3)] == [200, 200, 200]
    refused = get(emulator)
    assert refused.status_code == 429
    assert refused.json() == {"message": "Too Many Attempts."}
    assert 1 <= int(refused.headers["Retry-After"]) <= 30
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert [e["status"] for e in emulator.request_log] == [200, 200, 200, 429]


def test_each_token_has_its_own_count(emulator: Emulator) -> None:
    emulator.set_throttle(1, window_seconds=30)
    assert get(emulator, TOKEN_A).status_code == 200
    assert get(emulator, TOKEN_B).status_code == 200
    assert get(emulator, TOKEN_A).status_code == 429


def test_calls_come_back_once_the_window_has_passed(emulator: Emulator) -> None:
    emulator.set_throttle(2, window_seconds=0.5)
    assert [get(emulator).status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(0.6)
    assert get(emulator).status_code == 200


def test_a_refused_call_does_not_count_against_the_window(emulator: Emulator) -> None:
    emulator.set_throttle(1, window_seconds=0.5)
    assert get(emulator).status_code == 200
    assert [get(emulator).status_code for _ in range(5)] == [429] * 5
    time.sleep(0.55)
    assert get(emulator).status_code == 200


def test_the_throttle_is_set_and_cleared_over_http_and_by_reset(emulator: Emulator) -> None:
    control = f"{emulator.url}/_emulator/throttle"
    answer = requests.post(control, json={"calls": 1, "window_seconds": 10}, timeout=5)
    assert answer.json()["data"] == {"calls": 1, "window_seconds": 10.0}
    assert [get(emulator).status_code for _ in range(2)] == [200, 429]
    assert requests.delete(control, timeout=5).status_code == 200
    assert get(emulator).status_code == 200
    requests.post(control, json={"calls": 1}, timeout=5)
    assert requests.get(control, timeout=5).json()["data"] == {"calls": 1, "window_seconds": 60.0}
    emulator.reset()
    assert [get(emulator).status_code for _ in range(3)] == [200, 200, 200]
    bad = requests.post(control, json={"calls": 0}, timeout=5)
    assert bad.status_code == 422


def test_answers_keep_the_references_fields_under_the_throttle(emulator: Emulator) -> None:
    emulator.set_throttle(5, window_seconds=30)
    device = get(emulator).json()["data"][0]
    assert list(device) == [
        "uid", "name", "status", "last_seen_at", "platform", "board", "board_variant",
    ]  # fmt: skip
