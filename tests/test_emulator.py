"""The vendor API emulator, exercised over real HTTP with ``requests``."""

# The fixtures are imported by name (no conftest here), so every test parameter called
# ``emulator`` redefines the import on purpose.
# ruff: noqa: F811

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.pytest_plugin import TOKEN_A, TOKEN_B, emulator, emulator_server  # noqa: F401
from emulator.server import Emulator
from emulator.state import State

ROOT = Path(__file__).resolve().parent.parent
FOUR_MB = 4 * 1024 * 1024

COMPACT_KEYS = ["uid", "name", "status", "last_seen_at", "platform", "board", "board_variant"]
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
FIRMWARE_KEYS = [
    "id",
    "name",
    "version",
    "notes",
    "md5",
    "size",
    "created_at",
    "is_current",
    "is_target",
]
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
UID = re.compile(r"^(espressif8266|espressif32)_[A-Za-z0-9]{12}$")


class Api:
    """A tiny client bound to one emulator and one token."""

    def __init__(self, base: str, token: str | None) -> None:
        self.base = base
        self.token = token

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        timeout = kwargs.pop("timeout", 5)
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return requests.request(
            method, self.base + path, headers=headers, timeout=timeout, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)


@pytest.fixture
def api(emulator: Emulator) -> Api:
    return Api(emulator.url, TOKEN_A)


def dev(emulator: Emulator, name: str, token: str = TOKEN_A) -> str:
    """The device path of a curated device."""
    return f"/v1/user/devices/{emulator.device_uid(token, name)}"


def upload(api: Api, path: str, content: bytes, **fields: str) -> requests.Response:
    data = {"name": "Release build", **fields}
    files = {"file": ("firmware.bin", content, "application/octet-stream")}
    return api.post(f"{path}/firmwares", data=data, files=files)


# ---------------------------------------------------------------------- auth and isolation


def test_it_rejects_a_missing_token(emulator: Emulator) -> None:
    response = Api(emulator.url, None).get("/v1/user/devices")
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthenticated."}


def test_it_rejects_an_unknown_token(emulator: Emulator) -> None:
    response = Api(emulator.url, "not-a-token").get("/v1/user/devices")
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthenticated."}


def test_it_rejects_a_token_sent_with_another_scheme(emulator: Emulator) -> None:
    response = requests.get(
        emulator.url + "/v1/user/devices", headers={"Authorization": f"Basic {TOKEN_A}"}, timeout=5
    )
    assert response.status_code == 401


def test_each_token_sees_only_its_own_fleet(emulator: Emulator, api: Api) -> None:
    uids_a = {d["uid"] for d in api.get("/v1/user/devices").json()["data"]}
    uids_b = {d["uid"] for d in Api(emulator.url, TOKEN_B).get("/v1/user/devices").json()["data"]}
    assert uids_a and uids_b
    assert not uids_a & uids_b


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("PATCH", ""),
        ("POST", "/reboot"),
        ("GET", "/command-buttons"),
        ("GET", "/firmwares"),
    ],
)
def test_another_tokens_device_is_not_found(
    emulator: Emulator,
    api: Api,
    method: str,
    suffix: str,
) -> None:
    other = dev(emulator, "Kitchen Relay", TOKEN_B)
    response = api.call(method, other + suffix, json={"name": "Mine now"})
    assert response.status_code == 404
    assert response.json() == {"message": "Device not found."}


# ---------------------------------------------------------------------- devices


def test_the_device_list_has_the_compact_shape_of_the_reference(api: Api) -> None:
    response = api.get("/v1/user/devices")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["data"]
    for device in body["data"]:
        assert list(device) == COMPACT_KEYS
        assert UID.match(device["uid"])
        assert device["uid"].startswith(device["platform"]["key"] + "_")
        assert device["status"] in {"online", "offline", "pending", "reconnecting"}
        assert device["last_seen_at"] is None or ISO_UTC.match(device["last_seen_at"])
        assert list(device["board"]) == ["id", "name", "key"]


def test_the_demo_fleet_mixes_platforms_statuses_firmwares_and_buttons(
    emulator: Emulator,
    api: Api,
) -> None:
    devices = api.get("/v1/user/devices").json()["data"]
    assert len(devices) >= 14
    statuses = [d["status"] for d in devices]
    assert {"online", "offline", "pending", "reconnecting"} <= set(statuses)
    assert statuses.count("reconnecting") == 1
    assert 1 <= statuses.count("pending") <= 2
    assert {d["platform"]["key"] for d in devices} == {"espressif8266", "espressif32"}
    assert {d["platform"]["name"] for d in devices} == {"ESP8266", "ESP32"}
    assert {"Greenhouse Sensor", "Garage Door", "Kitchen Relay"} <= {d["name"] for d in devices}
    with_firmware = with_buttons = 0
    confirms = []
    for device in devices:
        firmwares = api.get(f"/v1/user/devices/{device['uid']}/firmwares").json()["data"]
        buttons = api.get(f"/v1/user/devices/{device['uid']}/command-buttons").json()["data"]
        with_firmware += bool(firmwares)
        with_buttons += bool(buttons)
        confirms += [b["confirm"] for b in buttons]
    assert with_firmware >= 3
    assert with_buttons >= 3
    assert True in confirms


def test_uids_are_deterministic_from_the_seed_and_differ_per_token() -> None:
    first = State(("x", "y"), seed=7)
    again = State(("x", "y"), seed=7)
    other_seed = State(("x", "y"), seed=8)
    assert first.uids("x") == again.uids("x")
    assert first.uids("x") != first.uids("y")
    assert first.uids("x") != other_seed.uids("x")


def test_a_generated_fleet_of_a_thousand_devices_builds_fast() -> None:
    started = time.perf_counter()
    state = State(("x",), fleet_size=1000)
    assert time.perf_counter() - started < 0.5
    devices = state.list_devices("x")
    assert len(devices) == 1000
    assert len({d["uid"] for d in devices}) == 1000
    assert {d["status"] for d in devices} == {"online", "offline", "pending", "reconnecting"}
    assert {d["platform"]["key"] for d in devices} == {"espressif8266", "espressif32"}


def test_the_device_detail_has_the_fields_of_the_reference(
    emulator: Emulator,
    api: Api,
) -> None:
    response = api.get(dev(emulator, "Greenhouse Sensor"))
    assert response.status_code == 200
    detail = response.json()["data"]
    assert list(detail) == DETAIL_KEYS
    assert detail["port"] == 8883
    assert detail["meta"]["mqtt_port"] == 8883
    assert detail["is_online"] is True
    assert ISO_UTC.match(detail["first_seen_at"])
    assert list(detail["current_firmware"]) == ["id", "name", "version", "md5"]
    assert detail["current_firmware"]["version"] == "1.2.0"
    assert detail["target_firmware"]["version"] == "1.3.0"


def test_a_pending_device_has_never_been_seen(emulator: Emulator, api: Api) -> None:
    detail = api.get(dev(emulator, "Workshop Dust Collector")).json()["data"]
    assert detail["status"] == "pending"
    assert detail["is_online"] is False
    for key in ("public_ip", "local_ip", "last_rssi", "first_seen_at", "last_seen_at"):
        assert detail[key] is None
    assert detail["meta"] == {"mqtt_port": 8883}


def test_only_online_devices_are_flagged_online(emulator: Emulator, api: Api) -> None:
    for device in api.get("/v1/user/devices").json()["data"]:
        detail = api.get(f"/v1/user/devices/{device['uid']}").json()["data"]
        assert detail["is_online"] is (detail["status"] == "online")


def test_an_online_device_was_seen_in_the_last_few_seconds(
    emulator: Emulator,
    api: Api,
) -> None:
    detail = api.get(dev(emulator, "Kitchen Relay")).json()["data"]
    seen = datetime.fromisoformat(detail["last_seen_at"]).timestamp()
    assert time.time() - 6 < seen <= time.time()


def test_it_updates_a_devices_name_and_description(emulator: Emulator, api: Api) -> None:
    path = dev(emulator, "Kitchen Relay")
    response = api.patch(
        path, json={"name": "  Kitchen Sensor ", "description": "Mounted near the back door"}
    )
    assert response.status_code == 200
    detail = response.json()["data"]
    assert list(detail) == DETAIL_KEYS
    assert detail["name"] == "Kitchen Sensor"
    assert detail["description"] == "Mounted near the back door"
    cleared = api.patch(path, json={"description": None}).json()["data"]
    assert cleared["description"] is None
    assert cleared["name"] == "Kitchen Sensor"


@pytest.mark.parametrize("name", ["", "   ", None])
def test_it_refuses_an_empty_device_name(
    emulator: Emulator,
    api: Api,
    name: str | None,
) -> None:
    response = api.patch(dev(emulator, "Kitchen Relay"), json={"name": name})
    assert response.status_code == 422
    assert response.json() == {
        "message": "The name field is required.",
        "errors": {"name": ["The name field is required."]},
    }


def test_it_refuses_a_too_long_name_and_description(emulator: Emulator, api: Api) -> None:
    response = api.patch(
        dev(emulator, "Kitchen Relay"), json={"name": "n" * 256, "description": "d" * 1001}
    )
    assert response.status_code == 422
    assert response.json() == {
        "message": "The name field must not be greater than 255 characters. (and 1 more error)",
        "errors": {
            "name": ["The name field must not be greater than 255 characters."],
            "description": ["The description field must not be greater than 1000 characters."],
        },
    }


def test_it_accepts_a_name_of_255_and_a_description_of_1000_characters(
    emulator: Emulator, api: Api
) -> None:
    """The same limits as a firmware's name and notes, which the reference's upstream takes."""
    response = api.patch(
        dev(emulator, "Kitchen Relay"), json={"name": "n" * 255, "description": "d" * 1000}
    )
    assert response.status_code == 200
    assert response.json()["data"]["name"] == "n" * 255


def test_it_refuses_a_name_that_is_not_a_string(emulator: Emulator, api: Api) -> None:
    response = api.patch(dev(emulator, "Kitchen Relay"), json={"name": 42})
    assert response.status_code == 422
    assert response.json()["errors"] == {"name": ["The name field must be a string."]}


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"'])
def test_it_refuses_a_malformed_json_body(
    emulator: Emulator,
    api: Api,
    body: bytes,
) -> None:
    response = api.patch(
        dev(emulator, "Kitchen Relay"), data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"message": "Malformed JSON body."}


def test_an_unknown_path_is_a_json_404(api: Api) -> None:
    response = api.get("/v1/user/gadgets")
    assert response.status_code == 404
    assert response.json() == {"message": "The route v1/user/gadgets could not be found."}


def test_a_wrong_method_is_a_json_405(emulator: Emulator, api: Api) -> None:
    response = api.get(dev(emulator, "Kitchen Relay") + "/reboot")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert response.json()["message"].startswith("The GET method is not supported for route")


# ---------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    ("suffix", "json_body", "message"),
    [
        ("/reboot", None, "Reboot command sent."),
        ("/wifi-reset", None, "Wi-Fi reset command sent."),
        ("/ota", None, "OTA check triggered."),
        ("/commands", {"payload": {"cmd": "relay_toggle", "state": "on"}}, "Command sent."),
    ],
)
def test_it_sends_commands_to_an_online_device(
    emulator: Emulator,
    api: Api,
    suffix: str,
    json_body: dict[str, Any] | None,
    message: str,
) -> None:
    uid = emulator.device_uid(TOKEN_A, "Greenhouse Sensor")
    response = api.post(f"/v1/user/devices/{uid}{suffix}", json=json_body)
    assert response.status_code == 200
    assert response.json() == {"message": message, "device_uid": uid}


@pytest.mark.parametrize("suffix", ["/reboot", "/wifi-reset", "/ota", "/commands"])
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Front Porch Light", "Device is offline."),
        ("Attic Fan Controller", "Device is reconnecting. Try again shortly."),
        ("Workshop Dust Collector", "Device has not connected yet."),
    ],
)
def test_it_refuses_commands_to_a_device_that_cannot_take_them(
    emulator: Emulator,
    api: Api,
    suffix: str,
    name: str,
    message: str,
) -> None:
    response = api.post(dev(emulator, name) + suffix, json={"payload": {"cmd": "ping"}})
    assert response.status_code == 409
    assert response.json() == {"message": message}


def test_a_device_forced_offline_refuses_commands(emulator: Emulator, api: Api) -> None:
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    detail = emulator.set_device(TOKEN_A, uid, is_online=False, status="offline")
    assert detail["status"] == "offline"
    assert detail["is_online"] is False
    response = api.post(f"/v1/user/devices/{uid}/reboot")
    assert response.status_code == 409
    assert response.json() == {"message": "Device is offline."}


def test_ota_needs_a_target_firmware(emulator: Emulator, api: Api) -> None:
    response = api.post(dev(emulator, "Basement Water Leak") + "/ota")
    assert response.status_code == 422
    assert response.json() == {"message": "Assign firmware first to trigger OTA."}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "The payload field is required."),
        ({"payload": None}, "The payload field is required."),
        ({"payload": "reboot"}, "The payload field must be an array."),
        ({"payload": [1, 2]}, "The payload field must be an array."),
    ],
)
def test_a_command_payload_must_be_a_json_object(
    emulator: Emulator,
    api: Api,
    body: dict[str, Any],
    message: str,
) -> None:
    response = api.post(dev(emulator, "Kitchen Relay") + "/commands", json=body)
    assert response.status_code == 422
    assert response.json() == {"message": message, "errors": {"payload": [message]}}


# ---------------------------------------------------------------------- command buttons


def test_it_lists_command_buttons(emulator: Emulator, api: Api) -> None:
    response = api.get(dev(emulator, "Kitchen Relay") + "/command-buttons")
    assert response.status_code == 200
    buttons = response.json()["data"]
    assert buttons[0] == {
        "id": "relay_on",
        "label": "Relay On",
        "payload": {"cmd": "relay_toggle", "channel": 1, "state": "on"},
        "confirm": False,
    }


def test_it_creates_a_command_button(emulator: Emulator, api: Api) -> None:
    uid = emulator.device_uid(TOKEN_A, "Basement Water Leak")
    button = {"id": "valve_close", "label": "Close Valve", "payload": {"cmd": "valve"}}
    response = api.post(f"/v1/user/devices/{uid}/command-buttons", json=button)
    assert response.status_code in (200, 201)
    created = {**button, "confirm": False}
    assert response.json() == {
        "message": "Command button created.",
        "device_uid": uid,
        "data": created,
    }
    listed = api.get(f"/v1/user/devices/{uid}/command-buttons").json()["data"]
    assert listed == [created]


def test_it_refuses_a_duplicate_command_button_id(emulator: Emulator, api: Api) -> None:
    button = {"id": "relay_on", "label": "Again", "payload": {"cmd": "x"}, "confirm": True}
    response = api.post(dev(emulator, "Kitchen Relay") + "/command-buttons", json=button)
    assert response.status_code == 422
    assert response.json() == {"message": "A command button with this id already exists."}


@pytest.mark.parametrize(
    ("button", "errors"),
    [
        (
            {},
            {
                "id": ["The id field is required."],
                "label": ["The label field is required."],
                "payload": ["The payload field is required."],
            },
        ),
        (
            {"id": "has space", "label": "L" * 65, "payload": {"a": 1}, "confirm": "yes"},
            {
                "id": ["The id field format is invalid."],
                "label": ["The label field must not be greater than 64 characters."],
                "confirm": ["The confirm field must be true or false."],
            },
        ),
        (
            {"id": "x" * 65, "label": "ok", "payload": ["a"]},
            {
                "id": ["The id field must not be greater than 64 characters."],
                "payload": ["The payload field must be an array."],
            },
        ),
    ],
)
def test_it_validates_a_command_button(
    emulator: Emulator,
    api: Api,
    button: dict[str, Any],
    errors: dict[str, list[str]],
) -> None:
    response = api.post(dev(emulator, "Kitchen Relay") + "/command-buttons", json=button)
    assert response.status_code == 422
    body = response.json()
    assert body["errors"] == errors
    first = next(iter(errors.values()))[0]
    more = len(errors) - 1
    assert body["message"] == f"{first} (and {more} more error{'s' if more > 1 else ''})"


def test_it_deletes_a_command_button(emulator: Emulator, api: Api) -> None:
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    response = api.delete(f"/v1/user/devices/{uid}/command-buttons/relay_on")
    assert response.status_code == 200
    assert response.json() == {"message": "Command button deleted.", "device_uid": uid}
    ids = [b["id"] for b in api.get(f"/v1/user/devices/{uid}/command-buttons").json()["data"]]
    assert "relay_on" not in ids


def test_it_sends_a_command_button_payload(emulator: Emulator, api: Api) -> None:
    uid = emulator.device_uid(TOKEN_A, "Garage Door")
    response = api.post(f"/v1/user/devices/{uid}/command-buttons/door_toggle/send")
    assert response.status_code == 200
    assert response.json() == {"message": "Command sent.", "device_uid": uid}
    received = emulator.state.received_commands(TOKEN_A, uid)
    assert received[-1]["payload"] == {"cmd": "door", "action": "toggle"}


@pytest.mark.parametrize(("method", "suffix"), [("DELETE", ""), ("POST", "/send")])
def test_an_unknown_command_button_is_not_found(
    emulator: Emulator,
    api: Api,
    method: str,
    suffix: str,
) -> None:
    path = dev(emulator, "Kitchen Relay") + "/command-buttons/nope" + suffix
    response = api.call(method, path)
    assert response.status_code == 404
    assert response.json() == {"message": "Command button not found."}


# ---------------------------------------------------------------------- firmwares


def test_it_lists_firmwares_with_their_assignment(emulator: Emulator, api: Api) -> None:
    response = api.get(dev(emulator, "Greenhouse Sensor") + "/firmwares")
    assert response.status_code == 200
    firmwares = response.json()["data"]
    assert len(firmwares) == 2
    for firmware in firmwares:
        assert list(firmware) == FIRMWARE_KEYS
        assert re.match(r"^[0-9a-f]{32}$", firmware["md5"])
        assert ISO_UTC.match(firmware["created_at"])
    by_version = {f["version"]: f for f in firmwares}
    assert by_version["1.2.0"]["is_current"] and not by_version["1.2.0"]["is_target"]
    assert by_version["1.3.0"]["is_target"] and not by_version["1.3.0"]["is_current"]


def test_it_uploads_a_firmware(emulator: Emulator, api: Api) -> None:
    content = b"\xe9firmware-image" * 1000
    response = upload(
        api,
        dev(emulator, "Basement Water Leak"),
        content,
        version="1.0.3",
        notes="Stable OTA build",
    )
    assert response.status_code in (200, 201)
    firmware = response.json()["data"]
    assert list(firmware) == FIRMWARE_KEYS
    assert firmware["name"] == "Release build"
    assert firmware["version"] == "1.0.3"
    assert firmware["notes"] == "Stable OTA build"
    assert firmware["md5"] == hashlib.md5(content, usedforsecurity=False).hexdigest()
    assert firmware["size"] == len(content)
    assert firmware["is_current"] is False
    assert firmware["is_target"] is False
    assert isinstance(firmware["id"], int)


def test_firmware_ids_come_from_one_global_counter(emulator: Emulator, api: Api) -> None:
    first = upload(api, dev(emulator, "Basement Water Leak"), b"one").json()["data"]["id"]
    second = upload(api, dev(emulator, "Rain Gauge"), b"two").json()["data"]["id"]
    assert second == first + 1


def test_it_refuses_a_firmware_uploaded_twice(emulator: Emulator, api: Api) -> None:
    path = dev(emulator, "Basement Water Leak")
    assert upload(api, path, b"same bytes").status_code in (200, 201)
    response = upload(api, path, b"same bytes", name="Other name")
    assert response.status_code == 422
    assert response.json() == {"message": "This firmware file is already uploaded."}
    # Another device may hold the same file.
    assert upload(api, dev(emulator, "Rain Gauge"), b"same bytes").status_code in (200, 201)


def test_it_requires_a_firmware_name_and_file(emulator: Emulator, api: Api) -> None:
    response = api.post(dev(emulator, "Basement Water Leak") + "/firmwares", data={"version": "1"})
    assert response.status_code == 422
    assert response.json() == {
        "message": "The name field is required. (and 1 more error)",
        "errors": {
            "name": ["The name field is required."],
            "file": ["The file field is required."],
        },
    }


def test_it_accepts_a_firmware_of_exactly_four_megabytes(emulator: Emulator, api: Api) -> None:
    response = upload(api, dev(emulator, "Basement Water Leak"), b"\x01" * FOUR_MB)
    assert response.status_code in (200, 201)
    assert response.json()["data"]["size"] == FOUR_MB


def test_it_refuses_a_firmware_one_byte_over_four_megabytes(
    emulator: Emulator,
    api: Api,
) -> None:
    response = upload(api, dev(emulator, "Basement Water Leak"), b"\x01" * (FOUR_MB + 1))
    assert response.status_code == 422
    message = "The file field must not be greater than 4096 kilobytes."
    assert response.json() == {"message": message, "errors": {"file": [message]}}


def test_it_updates_firmware_metadata(emulator: Emulator, api: Api) -> None:
    path = dev(emulator, "Greenhouse Sensor")
    firmware = api.get(path + "/firmwares").json()["data"][0]
    response = api.patch(
        f"{path}/firmwares/{firmware['id']}",
        json={"name": "Release build", "version": "1.0.4", "notes": "Renamed after testing"},
    )
    assert response.status_code == 200
    updated = response.json()["data"]
    assert list(updated) == FIRMWARE_KEYS
    assert (updated["name"], updated["version"], updated["notes"]) == (
        "Release build",
        "1.0.4",
        "Renamed after testing",
    )
    assert updated["md5"] == firmware["md5"]


def test_it_validates_firmware_metadata(emulator: Emulator, api: Api) -> None:
    path = dev(emulator, "Greenhouse Sensor")
    firmware_id = api.get(path + "/firmwares").json()["data"][0]["id"]
    response = api.patch(f"{path}/firmwares/{firmware_id}", json={"name": ""})
    assert response.status_code == 422
    assert response.json()["errors"] == {"name": ["The name field is required."]}


def test_it_refuses_to_delete_an_assigned_firmware(emulator: Emulator, api: Api) -> None:
    path = dev(emulator, "Greenhouse Sensor")
    for firmware in api.get(path + "/firmwares").json()["data"]:
        response = api.delete(f"{path}/firmwares/{firmware['id']}")
        assert response.status_code == 422
        assert response.json() == {
            "message": "Cannot delete firmware while it is assigned to any device."
        }


def test_it_deletes_an_unassigned_firmware(emulator: Emulator, api: Api) -> None:
    path = dev(emulator, "Living Room Thermostat")
    firmwares = api.get(path + "/firmwares").json()["data"]
    spare = next(f for f in firmwares if not f["is_current"] and not f["is_target"])
    response = api.delete(f"{path}/firmwares/{spare['id']}")
    assert response.status_code == 200
    assert response.json() == {"message": "Firmware deleted."}
    assert spare["id"] not in [f["id"] for f in api.get(path + "/firmwares").json()["data"]]


@pytest.mark.parametrize("firmware_id", ["999999", "abc"])
@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_an_unknown_firmware_is_not_found(
    emulator: Emulator,
    api: Api,
    method: str,
    firmware_id: str,
) -> None:
    path = dev(emulator, "Greenhouse Sensor") + f"/firmwares/{firmware_id}"
    response = api.call(method, path, json={"name": "x"})
    assert response.status_code == 404
    assert response.json() == {"message": "Firmware not found."}


def test_another_devices_firmware_is_not_found(emulator: Emulator, api: Api) -> None:
    firmware_id = api.get(dev(emulator, "Greenhouse Sensor") + "/firmwares").json()["data"][0]["id"]
    response = api.delete(dev(emulator, "Kitchen Relay") + f"/firmwares/{firmware_id}")
    assert response.status_code == 404


def test_it_sets_the_target_firmware_by_md5(emulator: Emulator, api: Api) -> None:
    uid = emulator.device_uid(TOKEN_A, "Basement Water Leak")
    path = f"/v1/user/devices/{uid}"
    md5 = upload(api, path, b"target me").json()["data"]["md5"]
    response = api.post(path + "/firmwares/set-target", json={"md5": md5})
    assert response.status_code == 200
    assert response.json() == {
        "message": "Firmware assigned to device.",
        "device_uid": uid,
        "md5": md5,
    }
    detail = api.get(path).json()["data"]
    assert detail["target_firmware"]["md5"] == md5
    assert api.get(path + "/firmwares").json()["data"][0]["is_target"] is True


def test_set_target_refuses_an_unknown_md5(emulator: Emulator, api: Api) -> None:
    path = dev(emulator, "Basement Water Leak")
    response = api.post(path + "/firmwares/set-target", json={"md5": "0" * 32})
    assert response.status_code == 404
    assert response.json() == {
        "message": "Firmware with the provided md5 was not found for this device."
    }
    missing = api.post(path + "/firmwares/set-target", json={})
    assert missing.status_code == 422
    assert missing.json()["errors"] == {"md5": ["The md5 field is required."]}


# ---------------------------------------------------------------------- simulated life


def test_a_reboot_reconnects_then_comes_back_online() -> None:
    with Emulator(tokens=("t",), reboot_seconds=0.3) as server:
        client = Api(server.url, "t")
        path = f"/v1/user/devices/{server.device_uid('t', 'Kitchen Relay')}"
        assert client.post(path + "/reboot").status_code == 200
        during = client.get(path).json()["data"]
        assert (during["status"], during["is_online"]) == ("reconnecting", False)
        assert client.post(path + "/reboot").json() == {
            "message": "Device is reconnecting. Try again shortly."
        }
        time.sleep(0.35)
        after = client.get(path).json()["data"]
        assert (after["status"], after["is_online"]) == ("online", True)


def test_an_ota_downloads_then_installs_the_target() -> None:
    with Emulator(tokens=("t",), ota_seconds=0.3) as server:
        client = Api(server.url, "t")
        path = f"/v1/user/devices/{server.device_uid('t', 'Greenhouse Sensor')}"
        before = client.get(path).json()["data"]
        assert client.post(path + "/ota").status_code == 200
        during = client.get(path).json()["data"]
        assert during["meta"]["ota_status"] == "downloading"
        assert during["current_firmware"] == before["current_firmware"]
        time.sleep(0.35)
        after = client.get(path).json()["data"]
        assert after["meta"]["ota_status"] == "done"
        assert after["current_firmware"] == before["target_firmware"]
        assert after["last_ota_at"] > before["last_ota_at"]
        firmwares = client.get(path + "/firmwares").json()["data"]
        current = next(f for f in firmwares if f["is_current"])
        assert current["id"] == before["target_firmware"]["id"]


# ---------------------------------------------------------------------- pagination


def test_the_device_list_is_paginated_when_a_page_size_is_set() -> None:
    with Emulator(tokens=("t",), fleet_size=23, page_size=10) as server:
        client = Api(server.url, "t")
        first = client.get("/v1/user/devices").json()
        assert len(first["data"]) == 10
        assert first["meta"] == {"current_page": 1, "last_page": 3, "per_page": 10, "total": 23}
        assert first["links"]["next"] == f"{server.url}/v1/user/devices?page=2"
        seen = [d["uid"] for d in first["data"]]
        next_url = first["links"]["next"]
        while next_url:
            page = requests.get(next_url, headers=client.headers(), timeout=5).json()
            seen += [d["uid"] for d in page["data"]]
            next_url = page["links"]["next"]
        assert page["meta"]["current_page"] == 3
        assert len(seen) == len(set(seen)) == 23


def test_pagination_can_be_switched_on_at_runtime(emulator: Emulator, api: Api) -> None:
    assert "links" not in api.get("/v1/user/devices").json()
    emulator.set_page_size(5)
    body = api.get("/v1/user/devices", params={"page": 2}).json()
    assert body["meta"]["current_page"] == 2
    assert len(body["data"]) == 5


# ---------------------------------------------------------------------- faults


def test_a_500_fault_answers_a_json_server_error(emulator: Emulator, api: Api) -> None:
    emulator.set_fault("500")
    response = api.get("/v1/user/devices")
    assert response.status_code == 500
    assert response.json() == {"message": "Server Error"}


def test_a_503_html_fault_answers_an_html_page(emulator: Emulator, api: Api) -> None:
    emulator.set_fault("503_html")
    response = api.get("/v1/user/devices")
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<html" in response.text


def test_an_html_fault_answers_200_with_html(emulator: Emulator, api: Api) -> None:
    emulator.set_fault("html")
    response = api.get("/v1/user/devices")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        response.json()


def test_a_malformed_fault_answers_broken_json(emulator: Emulator, api: Api) -> None:
    emulator.set_fault("malformed")
    response = api.get("/v1/user/devices")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        response.json()


def test_a_429_fault_asks_to_retry_later(emulator: Emulator, api: Api) -> None:
    emulator.set_fault("429", retry_after=12)
    response = api.get("/v1/user/devices")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "12"
    assert response.json() == {"message": "Too Many Attempts."}


def test_a_hang_fault_outlasts_the_client_timeout(emulator: Emulator, api: Api) -> None:
    emulator.set_fault("hang", count=1, hang_seconds=2)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        api.get("/v1/user/devices", timeout=0.5)
    assert time.monotonic() - started < 1.5
    assert api.get("/v1/user/devices").status_code == 200


def test_a_drop_fault_closes_the_connection_without_an_answer(
    emulator: Emulator,
    api: Api,
) -> None:
    emulator.set_fault("drop", count=1)
    with pytest.raises(requests.ConnectionError):
        api.get("/v1/user/devices")
    assert api.get("/v1/user/devices").status_code == 200
    assert emulator.request_log[0]["status"] is None


def test_faults_apply_before_auth_and_honour_count(emulator: Emulator) -> None:
    emulator.set_fault("500", count=2)
    anonymous = Api(emulator.url, None)
    assert [anonymous.get("/v1/user/devices").status_code for _ in range(3)] == [500, 500, 401]


def test_a_fault_can_target_one_path(emulator: Emulator, api: Api) -> None:
    emulator.set_fault("500", path=r"/firmwares$")
    path = dev(emulator, "Greenhouse Sensor")
    assert api.get(path).status_code == 200
    assert api.get(path + "/firmwares").status_code == 500
    emulator.clear_faults()
    assert api.get(path + "/firmwares").status_code == 200


def test_faults_never_touch_control_endpoints(emulator: Emulator) -> None:
    emulator.set_fault("500")
    assert requests.get(emulator.url + "/_emulator/health", timeout=5).status_code == 200


def test_latency_delays_api_requests(emulator: Emulator, api: Api) -> None:
    emulator.set_latency(200)
    started = time.monotonic()
    api.get("/v1/user/devices")
    assert time.monotonic() - started >= 0.2
    emulator.reset()
    started = time.monotonic()
    api.get("/v1/user/devices")
    assert time.monotonic() - started < 0.2


# ---------------------------------------------------------------------- request log


def test_the_request_log_records_api_requests_without_tokens(
    emulator: Emulator,
    api: Api,
) -> None:
    api.get("/v1/user/devices", params={"page": 1})
    Api(emulator.url, "wrong-token").get("/v1/user/devices")
    requests.get(emulator.url + "/_emulator/health", timeout=5)
    log = emulator.request_log
    assert [(e["method"], e["path"], e["query"], e["status"], e["token_ok"]) for e in log] == [
        ("GET", "/v1/user/devices", "page=1", 200, True),
        ("GET", "/v1/user/devices", "", 401, False),
    ]
    assert all(isinstance(e["at"], float) for e in log)
    assert TOKEN_A not in repr(log)
    assert "wrong-token" not in repr(log)
    log.clear()
    assert len(emulator.request_log) == 2
    emulator.clear_log()
    assert emulator.request_log == []


# ---------------------------------------------------------------------- control endpoints


def test_the_control_endpoints_drive_the_emulator_over_http(
    emulator: Emulator,
    api: Api,
) -> None:
    control = emulator.url + "/_emulator"
    assert requests.get(control + "/health", timeout=5).json()["status"] == "ok"

    fault = {"kind": "429", "count": 1, "retry_after": 5}
    assert requests.post(control + "/faults", json=fault, timeout=5).status_code == 201
    assert api.get("/v1/user/devices").status_code == 429
    assert requests.post(control + "/faults", json={"kind": "nope"}, timeout=5).status_code == 422
    requests.post(control + "/faults", json={"kind": "500"}, timeout=5)
    assert requests.delete(control + "/faults", timeout=5).status_code == 200
    assert api.get("/v1/user/devices").status_code == 200

    log = requests.get(control + "/log", timeout=5).json()["data"]
    assert [e["status"] for e in log] == [429, 200]
    requests.delete(control + "/log", timeout=5)
    assert requests.get(control + "/log", timeout=5).json()["data"] == []

    assert requests.post(control + "/latency", json={"ms": 150}, timeout=5).status_code == 200
    assert emulator.controls.latency_ms == 150

    uid = emulator.device_uid(TOKEN_B, "Garage Door")
    response = requests.post(control + f"/devices/{uid}", json={"status": "offline"}, timeout=5)
    assert response.status_code == 200
    assert response.json()["data"]["is_online"] is False
    bad = requests.post(control + f"/devices/{uid}", json={"colour": "red"}, timeout=5)
    assert bad.status_code == 422
    assert requests.post(control + "/devices/nope", json={}, timeout=5).status_code == 404

    assert requests.post(control + "/reset", timeout=5).status_code == 200
    assert emulator.controls.latency_ms == 0
    assert Api(emulator.url, TOKEN_B).get(f"/v1/user/devices/{uid}").json()["data"]["is_online"]


def test_reset_restores_the_seeded_fleet(emulator: Emulator, api: Api) -> None:
    before = api.get("/v1/user/devices").json()["data"]
    api.patch(f"/v1/user/devices/{before[0]['uid']}", json={"name": "Renamed"})
    emulator.reset()
    after = api.get("/v1/user/devices").json()["data"]
    assert [(d["uid"], d["name"]) for d in after] == [(d["uid"], d["name"]) for d in before]


# ---------------------------------------------------------------------- server and CLI


def test_it_refuses_to_bind_a_non_loopback_host() -> None:
    with pytest.raises(ValueError, match="allow_remote"):
        Emulator(host="192.0.2.10")


def test_the_command_line_prints_its_url_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--quiet", "--token", "cli-token"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"Emulator running on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        url = match.group(1)
        response = requests.get(
            url + "/v1/user/devices", headers={"Authorization": "Bearer cli-token"}, timeout=5
        )
        assert response.status_code == 200
        assert len(response.json()["data"]) >= 14
        process.terminate()
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_raw_fault_answers_exactly_the_bytes_status_and_headers_given(emulator):
    emulator.set_fault("raw", count=1, status=207, body=b"\xff\xfe{", headers={"X-Odd": "1"})
    response = requests.get(
        f"{emulator.url}/v1/user/devices", headers={"Authorization": f"Bearer {TOKEN_A}"}, timeout=5
    )
    assert (response.status_code, response.content) == (207, b"\xff\xfe{")
    assert response.headers["X-Odd"] == "1" and "Content-Type" not in response.headers


def test_a_copied_device_is_listed_under_its_new_uid_with_firmware_ids_of_its_own(
    emulator: Emulator, api: Api
) -> None:
    source = emulator.device_uid(TOKEN_A, "Greenhouse Sensor")
    new_uid = "esp32_" + "a" * 94  # 100 characters: no seeded fleet has one
    emulator.copy_device(TOKEN_A, source, new_uid)
    assert emulator.uids(TOKEN_A)[-1] == new_uid
    copy = api.get(f"/v1/user/devices/{new_uid}").json()["data"]
    assert copy["name"] == "Greenhouse Sensor"
    original = api.get(f"/v1/user/devices/{source}/firmwares").json()["data"]
    copied = api.get(f"/v1/user/devices/{new_uid}/firmwares").json()["data"]
    assert len(copied) == len(original) > 0
    assert not {fw["id"] for fw in copied} & {fw["id"] for fw in original}
    assert [fw["is_target"] for fw in copied] == [fw["is_target"] for fw in original]
    with pytest.raises(ValueError):
        emulator.copy_device(TOKEN_A, source, new_uid)
    with pytest.raises(KeyError):
        emulator.copy_device(TOKEN_A, "no-such-uid", "another")
