"""The emulator as a test range: programmable OTA outcomes and a time scale, over real HTTP.

Every outcome is observed the way the portal sees a device: through ``GET
/v1/user/devices/{uid}`` and only the reference's fields.
"""

# The fixtures are imported by name (no conftest here), so every test parameter called
# ``emulator`` redefines the import on purpose.
# ruff: noqa: F811

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.__main__ import build_parser
from emulator.pytest_plugin import TOKEN_A, emulator, emulator_server  # noqa: F401
from emulator.server import Emulator

ROOT = Path(__file__).resolve().parent.parent
AUTH = {"Authorization": f"Bearer {TOKEN_A}", "Accept": "application/json"}
# The reference's detail fields, in its order (../shared/seed/): nothing more, nothing less.
DETAIL_KEYS = [
    "uid",
    "name",
    "description",
    "status",
    "is_online",
    "public_ip",
    "local_ip",
    "port",
    "last_rssi",
    "first_seen_at",
    "last_seen_at",
    "last_ota_at",
    "platform",
    "board",
    "board_variant",
    "current_firmware",
    "target_firmware",
    "meta",
]
Detail = dict[str, Any]


def detail(emulator: Emulator, uid: str) -> Detail:
    response = requests.get(f"{emulator.url}/v1/user/devices/{uid}", headers=AUTH, timeout=5)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert list(data) == DETAIL_KEYS
    return data


def trigger_ota(emulator: Emulator, uid: str) -> requests.Response:
    return requests.post(f"{emulator.url}/v1/user/devices/{uid}/ota", headers=AUTH, timeout=5)


def control(emulator: Emulator, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, f"{emulator.url}/_emulator/{path}", json=body, timeout=5)


def watch(
    emulator: Emulator, uid: str, until: Callable[[Detail], bool], timeout: float = 5.0
) -> list[Detail]:
    """Poll the device's detail until ``until`` holds; every detail seen, the last one holds."""
    seen: list[Detail] = []
    deadline = time.monotonic() + timeout
    while True:
        seen.append(detail(emulator, uid))
        if until(seen[-1]):
            return seen
        assert time.monotonic() < deadline, f"never happened; last: {seen[-1]}"
        time.sleep(0.02)


def md5(firmware: dict[str, Any] | None) -> str | None:
    return None if firmware is None else firmware["md5"]


@pytest.fixture
def greenhouse(emulator: Emulator) -> str:
    """Online, running 1.2.0 with 1.3.0 as its target: ready for an OTA."""
    uid = emulator.device_uid(TOKEN_A, "Greenhouse Sensor")
    before = detail(emulator, uid)
    assert before["is_online"] and md5(before["current_firmware"]) != md5(before["target_firmware"])
    return uid


def test_by_default_an_ota_succeeds_after_the_ota_time_at_scale_one(
    emulator: Emulator, greenhouse: str
) -> None:
    assert control(emulator, "GET", "time-scale").json() == {"scale": 1.0}
    assert control(emulator, "GET", "ota-outcomes").json() == {
        "data": {"devices": {}, "probabilities": {}, "seed": 0, "flaky_seconds": 5.0}
    }
    before = detail(emulator, greenhouse)
    started = time.monotonic()
    assert trigger_ota(emulator, greenhouse).json()["message"] == "OTA check triggered."
    during = detail(emulator, greenhouse)
    assert during["meta"]["ota_status"] == "downloading" and during["is_online"]
    seen = watch(emulator, greenhouse, lambda d: d["meta"]["ota_status"] == "done")
    assert time.monotonic() - started >= 0.9  # the fixture's OTA takes 1 s at scale 1
    after = seen[-1]
    assert after["current_firmware"] == before["target_firmware"]
    assert after["is_online"] and after["status"] == "online"
    assert after["last_ota_at"] > before["last_ota_at"]
    assert all(d["is_online"] for d in seen)  # a success never drops the device


def test_a_fresh_emulator_keeps_the_demo_defaults() -> None:
    emulator = Emulator(tokens=("t",))
    assert emulator.time_scale == 1.0
    assert emulator.state.ota_seconds == 8.0 and emulator.state.reboot_seconds == 5.0
    assert emulator.ota_outcomes == {
        "devices": {},
        "probabilities": {},
        "seed": 0,
        "flaky_seconds": 5.0,
    }


def test_an_old_build_outcome_restarts_on_the_previous_firmware_its_last_ota_the_restart(
    emulator: Emulator, greenhouse: str
) -> None:
    emulator.set_time_scale(2)  # OTA and reboot: 0.5 s each
    before = detail(emulator, greenhouse)
    response = control(emulator, "POST", "ota-outcomes", {"devices": {greenhouse: "old_build"}})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["devices"] == {greenhouse: ["old_build"]}
    assert trigger_ota(emulator, greenhouse).status_code == 200
    seen = watch(
        emulator,
        greenhouse,
        lambda d: d["meta"]["ota_status"] == "done" and d["is_online"],
    )
    assert any(not d["is_online"] and d["status"] == "reconnecting" for d in seen)
    after = seen[-1]
    assert after["status"] == "online"
    assert after["current_firmware"] == before["current_firmware"]
    assert after["target_firmware"] == before["target_firmware"]
    # The attempt ended at the restart: from then on the last OTA is its moment.
    assert after["last_ota_at"] > before["last_ota_at"]
    restarting = [d for d in seen if not d["is_online"]]
    assert all(d["last_ota_at"] == after["last_ota_at"] for d in restarting)
    updating = [d for d in seen if d["meta"]["ota_status"] == "downloading"]
    assert all(d["last_ota_at"] == before["last_ota_at"] for d in updating)
    assert all(md5(d["current_firmware"]) == md5(before["current_firmware"]) for d in seen)


def test_a_stuck_outcome_never_progresses(emulator: Emulator, greenhouse: str) -> None:
    emulator.set_time_scale(10)  # the OTA would take 0.1 s
    emulator.set_ota_outcome(greenhouse, "stuck")
    before = detail(emulator, greenhouse)
    assert trigger_ota(emulator, greenhouse).status_code == 200
    time.sleep(0.6)
    after = detail(emulator, greenhouse)
    assert after["meta"]["ota_status"] == "downloading"
    assert after["current_firmware"] == before["current_firmware"]
    assert after["last_ota_at"] == before["last_ota_at"]
    assert after["is_online"] and after["status"] == "online"


def test_an_offline_outcome_leaves_for_good_during_the_update(
    emulator: Emulator, greenhouse: str
) -> None:
    emulator.set_time_scale(10)
    emulator.set_ota_outcome(greenhouse, "offline")
    before = detail(emulator, greenhouse)
    assert trigger_ota(emulator, greenhouse).status_code == 200
    seen = watch(emulator, greenhouse, lambda d: not d["is_online"])
    gone = seen[-1]
    assert gone["status"] == "offline"
    assert gone["meta"]["ota_status"] == "downloading"
    assert gone["current_firmware"] == before["current_firmware"]
    time.sleep(1.1)  # an online device's last_seen_at would have moved on by now
    later = detail(emulator, greenhouse)
    assert later["last_seen_at"] == gone["last_seen_at"] is not None
    assert not later["is_online"] and later["current_firmware"] == before["current_firmware"]
    refused = trigger_ota(emulator, greenhouse)
    assert refused.status_code == 409 and refused.json() == {"message": "Device is offline."}


def test_a_flaky_outcome_comes_back_on_the_target_then_drops_again(
    emulator: Emulator, greenhouse: str
) -> None:
    emulator.set_time_scale(10)  # OTA 0.1 s; the drop 0.5 s after it
    emulator.set_ota_outcomes(devices={greenhouse: "flaky"}, flaky_seconds=5)
    before = detail(emulator, greenhouse)
    target = md5(before["target_firmware"])
    assert trigger_ota(emulator, greenhouse).status_code == 200
    back = watch(emulator, greenhouse, lambda d: md5(d["current_firmware"]) == target)[-1]
    assert back["is_online"] and back["meta"]["ota_status"] == "done"
    assert back["last_ota_at"] > before["last_ota_at"]
    seen = watch(emulator, greenhouse, lambda d: not d["is_online"])
    assert all(md5(d["current_firmware"]) == target for d in seen)
    dropped = seen[-1]
    assert dropped["status"] == "offline"
    time.sleep(1.1)
    later = detail(emulator, greenhouse)
    assert not later["is_online"] and later["last_seen_at"] == dropped["last_seen_at"]


def test_a_list_of_outcomes_is_used_one_ota_after_another(
    emulator: Emulator, greenhouse: str
) -> None:
    emulator.set_time_scale(10)
    emulator.set_ota_outcome(greenhouse, ["old_build", "success"])
    before = detail(emulator, greenhouse)
    assert trigger_ota(emulator, greenhouse).status_code == 200
    watch(emulator, greenhouse, lambda d: d["meta"]["ota_status"] == "done")
    first = watch(emulator, greenhouse, lambda d: d["is_online"])[-1]
    assert first["current_firmware"] == before["current_firmware"]
    assert trigger_ota(emulator, greenhouse).status_code == 200
    second = watch(emulator, greenhouse, lambda d: d["meta"]["ota_status"] == "done")[-1]
    assert second["current_firmware"] == before["target_firmware"]


def classify(d: Detail, old: str, target: str) -> str:
    """The outcome a device's detail shows once every deadline has passed."""
    current = md5(d["current_firmware"])
    assert current in (old, target)
    if not d["is_online"]:
        return "flaky" if current == target else "offline"
    if d["meta"]["ota_status"] == "downloading":
        return "stuck"
    return "success" if current == target else "old_build"


def rollout(emulator: Emulator, seed: int, reverse: bool = False) -> dict[str, str]:
    """30 copies of the Greenhouse Sensor, one OTA each, outcomes drawn with ``seed``."""
    emulator.reset()
    source = emulator.device_uid(TOKEN_A, "Greenhouse Sensor")
    uids = [f"espressif32_range{n:07d}" for n in range(30)]
    for uid in uids:
        emulator.copy_device(TOKEN_A, source, uid)
    old = md5(detail(emulator, source)["current_firmware"])
    target = md5(detail(emulator, source)["target_firmware"])
    assert control(emulator, "POST", "time-scale", {"scale": 20}).status_code == 200
    probabilities = {"old_build": 0.2, "stuck": 0.2, "offline": 0.2, "flaky": 0.2}
    body = {"probabilities": probabilities, "seed": seed, "flaky_seconds": 1}
    assert control(emulator, "POST", "ota-outcomes", body).status_code == 200
    for uid in reversed(uids) if reverse else uids:
        assert trigger_ota(emulator, uid).status_code == 200
    time.sleep(0.6)  # OTA, reboot and drop: 0.05 s each at scale 20
    return {uid: classify(detail(emulator, uid), old, target) for uid in uids}


def test_outcomes_drawn_by_probability_are_the_same_for_the_same_seed(
    emulator: Emulator,
) -> None:
    first = rollout(emulator, seed=7)
    assert set(first.values()) == {"success", "old_build", "stuck", "offline", "flaky"}
    assert rollout(emulator, seed=7, reverse=True) == first  # whatever the trigger order
    assert rollout(emulator, seed=8) != first


def test_the_time_scale_shortens_the_ota(emulator: Emulator, greenhouse: str) -> None:
    response = control(emulator, "POST", "time-scale", {"scale": 20})
    assert response.json() == {"message": "Time scale set.", "scale": 20.0}
    assert emulator.time_scale == 20.0
    started = time.monotonic()
    assert trigger_ota(emulator, greenhouse).status_code == 200
    watch(emulator, greenhouse, lambda d: d["meta"]["ota_status"] == "done", timeout=0.9)
    assert time.monotonic() - started < 0.9  # 1 s at scale 1, 0.05 s at scale 20


def test_the_time_scale_shortens_a_reboot(emulator: Emulator, greenhouse: str) -> None:
    emulator.set_time_scale(20)
    started = time.monotonic()
    response = requests.post(
        f"{emulator.url}/v1/user/devices/{greenhouse}/reboot", headers=AUTH, timeout=5
    )
    assert response.status_code == 200
    watch(emulator, greenhouse, lambda d: d["is_online"], timeout=0.9)
    assert time.monotonic() - started < 0.9


def test_reset_clears_the_outcomes_and_the_time_scale(emulator: Emulator, greenhouse: str) -> None:
    emulator.set_time_scale(50)
    emulator.set_ota_outcomes(devices={greenhouse: "stuck"}, probabilities={"flaky": 1}, seed=3)
    assert control(emulator, "POST", "reset").status_code == 200
    assert control(emulator, "GET", "time-scale").json() == {"scale": 1.0}
    assert control(emulator, "GET", "ota-outcomes").json()["data"] == {
        "devices": {},
        "probabilities": {},
        "seed": 0,
        "flaky_seconds": 5.0,
    }
    assert trigger_ota(emulator, greenhouse).status_code == 200
    time.sleep(0.3)
    assert detail(emulator, greenhouse)["meta"]["ota_status"] == "downloading"  # 1 s again
    watch(emulator, greenhouse, lambda d: d["meta"]["ota_status"] == "done")


def test_delete_clears_the_outcomes_and_every_ota_succeeds_again(
    emulator: Emulator, greenhouse: str
) -> None:
    emulator.set_time_scale(10)
    emulator.set_ota_outcome(greenhouse, "stuck")
    response = control(emulator, "DELETE", "ota-outcomes")
    assert response.json() == {"message": "OTA outcomes cleared."}
    target = md5(detail(emulator, greenhouse)["target_firmware"])
    assert trigger_ota(emulator, greenhouse).status_code == 200
    watch(emulator, greenhouse, lambda d: md5(d["current_firmware"]) == target)


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("ota-outcomes", {"devices": {"{uid}": "bricked"}}, "unknown OTA outcome 'bricked'"),
        ("ota-outcomes", {"devices": {"espressif32_nobody000000": "stuck"}}, "unknown device"),
        ("ota-outcomes", {"probabilities": {"stuck": 0.7, "offline": 0.5}}, "add up to at most"),
        ("ota-outcomes", {"probabilities": {"stuck": -0.1}}, "from 0 to 1"),
        ("ota-outcomes", {"seed": "seven"}, "seed must be an integer"),
        ("ota-outcomes", {"flaky_seconds": -1}, "flaky_seconds"),
        ("ota-outcomes", {"outcome": "stuck"}, "unknown field(s): outcome"),
        ("time-scale", {"scale": 0}, "positive number"),
        ("time-scale", {"scale": "fast"}, "could not convert"),
        ("time-scale", {}, "scale is required"),
    ],
)
def test_a_bad_control_body_is_refused_and_changes_nothing(
    emulator: Emulator, greenhouse: str, path: str, body: dict[str, Any], message: str
) -> None:
    if "devices" in body and "{uid}" in body["devices"]:
        body = {"devices": {greenhouse: body["devices"]["{uid}"]}}
    response = control(emulator, "POST", path, body)
    assert response.status_code == 422
    assert message in response.json()["message"]
    assert emulator.time_scale == 1.0
    assert emulator.ota_outcomes["devices"] == {}
    assert emulator.ota_outcomes["probabilities"] == {}


def test_the_command_line_takes_a_time_scale_or_its_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EMULATOR_TIME_SCALE", raising=False)
    assert build_parser().parse_args([]).time_scale == 1.0
    assert build_parser().parse_args(["--time-scale", "20"]).time_scale == 20.0
    monkeypatch.setenv("EMULATOR_TIME_SCALE", "40")
    assert build_parser().parse_args([]).time_scale == 40.0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--time-scale", "0"])

    env = {**os.environ, "EMULATOR_TIME_SCALE": "25"}
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--quiet", "--token", "cli-token"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"Emulator running on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        response = requests.get(match.group(1) + "/_emulator/time-scale", timeout=5)
        assert response.json() == {"scale": 25.0}
    finally:
        process.terminate()
        process.wait(timeout=10)
