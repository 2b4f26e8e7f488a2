"""Whatever JSON type a field arrives as, the device pages show readable text: an object's
name or key, a list joined, Yes/No, a dash for nothing; never a repr, `None` or `null`, never
a 500. The upstream answers here are exact bytes (the emulator's `raw` fault)."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from tests.devices_helpers import HTMX, uid_of

JSON = {"Content-Type": "application/json"}
VARIANT = {"id": 1, "name": "4MB", "key": "esp07s_4mb"}
PLATFORM = {"id": 2, "name": "ESP8266", "key": "espressif8266"}
BOARD = {"id": 6, "name": "ESP-07S", "key": "esp07s"}
# What a page may never show for an upstream value.
REPRS = ("None", "null", "{'", "['", "True", "False", "{&#x27;", "[&#x27;")


def serve(emulator, path: str, body: object) -> None:
    emulator.set_fault("raw", path=path, status=200, headers=JSON, body=json.dumps(body).encode())


def main(response) -> str:
    body = response.content.decode()
    return body[body.index("<main") : body.index("</main>")]


def assert_readable(html: str) -> None:
    shown = re.sub(r"<[^>]+>", " ", html)
    for word in REPRS:
        assert word not in shown, word


def detail(device_uid: str, **fields) -> dict:
    base = {
        "uid": device_uid,
        "name": "test",
        "description": None,
        "status": "pending",
        "is_online": False,
        "public_ip": None,
        "local_ip": None,
        "port": 8883,
        "last_rssi": None,
        "first_seen_at": None,
        "last_seen_at": None,
        "last_ota_at": None,
        "platform": PLATFORM,
        "board": BOARD,
        "board_variant": None,
        "current_firmware": None,
        "target_firmware": None,
        "meta": {"mqtt_port": 8883},
    }
    return {**base, **fields}


# --- the table -----------------------------------------------------------------------------


def test_the_table_shows_a_board_variant_object_by_its_name(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    device = {
        "uid": uid,
        "name": "Relay",
        "status": "pending",
        "last_seen_at": None,
        "platform": PLATFORM,
        "board": BOARD,
        "board_variant": VARIANT,
    }
    serve(emulator, r"/v1/user/devices$", {"data": [device]})
    response = as_viewer.get(reverse("devices:list"))
    assert response.status_code == 200
    html = main(response)
    assert 'ESP-07S <span class="muted">(4MB)</span>' in html
    assert_readable(html)


def test_the_emulators_demo_fleet_has_a_board_variant_object_shown_by_name(as_viewer, emulator):
    html = main(as_viewer.get(reverse("devices:list"), {"q": "Mailbox"}))
    assert '<span class="muted">(1MB)</span>' in html
    assert_readable(html)


@pytest.mark.parametrize(
    "odd",
    [
        {"name": 12345, "status": True, "board_variant": ["4MB", "PSRAM"]},
        {"name": {"name": "Named name"}, "status": {"key": "active"}, "platform": "ESP8266"},
        {"name": None, "status": None, "platform": None, "board": None, "board_variant": None},
        {"platform": ["ESP8266"], "board": 6, "board_variant": 4.5, "last_seen_at": 17},
        {"board_variant": {"id": 9}, "platform": {"id": 2}, "board": {"key": "esp07s"}},
        {"status": [], "board_variant": {}, "name": ""},
    ],
)
def test_the_table_reads_fields_of_any_json_type(as_viewer, emulator, odd):
    uid = uid_of(emulator, "Kitchen Relay")
    device = {"uid": uid, "name": "Relay", "status": "pending", "last_seen_at": None,
              "platform": PLATFORM, "board": BOARD, "board_variant": None, **odd}  # fmt: skip
    serve(emulator, r"/v1/user/devices$", {"data": [device]})
    for params in ({}, {"sort": "platform"}, {"sort": "board"}, {"online": "no"}, {"q": "x"}):
        response = as_viewer.get(reverse("devices:list"), params)
        assert response.status_code == 200
        assert_readable(main(response))
    refresh = as_viewer.get(reverse("devices:list"), headers={**HTMX, "HX-Target": "device-rows"})
    assert refresh.status_code == 200
    assert_readable(refresh.content.decode())


# --- the detail page -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"platform": None, "board": None},
        {"board_variant": VARIANT},
        {"platform": "ESP8266", "board": ["ESP-07S", "rev 2"], "board_variant": 4},
        {"status": 3, "is_online": "yes", "port": {"mqtt": 8883}, "last_rssi": "-70"},
        {"public_ip": ["203.0.113.5"], "local_ip": {"v4": "192.168.1.2"}, "description": 7},
        {"name": {"name": "Relay"}, "uid": 42, "last_seen_at": 1700000000, "meta": [1, None]},
        {"current_firmware": "v1.0.3", "target_firmware": ["a", {"name": "b"}]},
        {"current_firmware": {"name": None, "version": 103, "md5": None, "extra": {"a": 1}}},
        {"target_firmware": {"name": {"key": "release"}, "version": True}},
        {"meta": {"ota_status": None, "nested": {"a": [1, 2]}, "flag": False, "none": None}},
        {"meta": "free text"},
    ],
)
def test_the_detail_page_reads_fields_of_any_json_type(as_viewer, emulator, fields):
    uid = uid_of(emulator, "Kitchen Relay")
    serve(emulator, rf"/v1/user/devices/{uid}$", {"data": detail(uid, **fields)})
    response = as_viewer.get(reverse("devices:detail", args=[uid]))
    assert response.status_code == 200
    assert_readable(main(response))
    live = as_viewer.get(
        reverse("devices:detail", args=[uid]), headers={**HTMX, "HX-Target": "device-live"}
    )
    assert live.status_code == 200
    assert_readable(live.content.decode())


def test_a_detail_without_platform_or_board_renders(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    payload = detail(uid)
    del payload["platform"], payload["board"], payload["board_variant"]
    serve(emulator, rf"/v1/user/devices/{uid}$", {"data": payload})
    response = as_viewer.get(reverse("devices:detail", args=[uid]))
    assert response.status_code == 200
    html = main(response)
    for label in ("Platform", "Board", "Board variant"):
        assert f"<dt>{label}</dt><dd>—</dd>" in html


def test_the_detail_page_shows_objects_by_name(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    fields = {"board_variant": VARIANT, "meta": {"chip": {"id": 1, "name": "ESP8266EX"}}}
    serve(emulator, rf"/v1/user/devices/{uid}$", {"data": detail(uid, **fields)})
    html = main(as_viewer.get(reverse("devices:detail", args=[uid])))
    assert "<dt>Board variant</dt><dd>4MB</dd>" in html
    assert "<dt>Platform</dt><dd>ESP8266</dd>" in html
    assert "<dd>ESP8266EX</dd>" in html  # a meta value that is an object


def test_the_edit_form_of_a_name_that_is_not_text_shows_it_readably(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    serve(emulator, rf"/v1/user/devices/{uid}$", {"data": detail(uid, name={"name": "Relay"})})
    for view in ("devices:edit", "devices:field"):
        response = as_operator.get(reverse(view, args=[uid, "name"]), headers=HTMX)
        assert response.status_code == 200
        assert "Relay" in response.content.decode()
        assert_readable(response.content.decode())


# --- the firmware panel --------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"current_firmware": "v1.0.3", "target_firmware": ["a"]},
        {"current_firmware": {"version": 103}, "target_firmware": {"name": {"key": "rel"}}},
        {"platform": None, "board": "ESP-07S", "meta": {"ota_status": {"name": "done"}}},
        {"meta": None},
    ],
)
def test_the_firmware_panel_reads_a_device_of_any_shape(as_maintainer, emulator, fields):
    uid = uid_of(emulator, "Kitchen Relay")
    serve(emulator, rf"/v1/user/devices/{uid}$", {"data": detail(uid, **fields)})
    response = as_maintainer.get(reverse("firmware:panel", args=[uid]))
    assert response.status_code == 200
    assert_readable(main(response))


def test_the_firmware_panel_reads_firmware_fields_of_any_json_type(as_maintainer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    firmwares = [
        {"id": 1, "name": {"name": "Release"}, "version": 103, "notes": None, "md5": None,
         "size": None, "created_at": None, "is_current": True, "is_target": False},
        {"id": 2, "name": None, "version": ["1", "2"], "notes": {"a": 1}, "md5": "ab" * 16,
         "size": 1024, "created_at": 17, "is_current": False, "is_target": True},
    ]  # fmt: skip
    serve(emulator, rf"/v1/user/devices/{uid}/firmwares$", {"data": firmwares})
    response = as_maintainer.get(reverse("firmware:panel", args=[uid]))
    assert response.status_code == 200
    html = main(response)
    assert_readable(html)
    assert "Release" in html and "103" in html and "1, 2" in html


@pytest.mark.parametrize("ident", [None, "", "has space", "<b>x</b>", True, 1.5, {"id": 1}])
def test_a_button_without_a_usable_id_is_left_out_and_the_others_are_shown(
    as_maintainer, emulator, ident
):
    uid = uid_of(emulator, "Kitchen Relay")
    good = {"id": "relay_on", "label": "Relay On", "payload": {"cmd": "on"}, "confirm": False}
    odd = {"label": "Read Now", "payload": {"cmd": "sample"}, "confirm": False}
    if ident is not None:
        odd["id"] = ident
    serve(emulator, "/command-buttons$", {"data": [odd, good]})
    response = as_maintainer.get(reverse("devices:buttons", args=[uid]), headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Relay On" in html and "Read Now" not in html


@pytest.mark.parametrize("ident", [None, "", "14a", "2026-04-16T10:25:00+05:45", False, [14]])
def test_a_firmware_without_a_usable_id_is_left_out_and_the_others_are_shown(
    as_maintainer, emulator, ident
):
    uid = uid_of(emulator, "Kitchen Relay")
    good = {"id": 14, "name": "Release build", "version": "1.0.3", "md5": "a" * 32}
    odd = {"name": "Odd build", "version": "9.9.9", "md5": "b" * 32}
    if ident is not None:
        odd["id"] = ident
    serve(emulator, "/firmwares$", {"data": [odd, good]})
    response = as_maintainer.get(reverse("firmware:panel", args=[uid]))
    html = main(response)
    assert response.status_code == 200
    assert "Release build" in html and "Odd build" not in html
