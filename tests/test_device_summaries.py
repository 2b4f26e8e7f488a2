"""The compact device list, typed: what the portal keeps of each device, however it comes."""

from __future__ import annotations

import json

from django.core.cache import cache
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from portal.iot import DeviceSummary, IoTClient, Named, device_list_body

DEVICE = {
    "uid": "espressif32_abc123",
    "name": "Greenhouse",
    "status": "online",
    "last_seen_at": "2026-11-26T10:00:00+00:00",
    "platform": {"id": 1, "name": "ESP32", "key": "espressif32"},
    "board": {"id": 3, "name": "ESP32 DevKit", "key": "esp32dev"},
    "board_variant": None,
}


def _summaries(payload: object, encoding: str = "utf-8") -> list[DeviceSummary]:
    return device_list_body(json.dumps(payload).encode(encoding))["data"]


def test_each_device_keeps_the_fields_the_page_uses():
    (device,) = _summaries({"data": [DEVICE]})
    assert device == DeviceSummary(
        uid="espressif32_abc123",
        name="Greenhouse",
        status="online",
        last_seen_at="2026-11-26T10:00:00+00:00",
        platform=Named(key="espressif32", name="ESP32", id=1),
        board=Named(key="esp32dev", name="ESP32 DevKit", id=3),
    )


def test_fields_the_reference_does_not_show_are_ignored_not_an_error():
    extra = {**DEVICE, "firmware_channel": "beta", "platform": {**DEVICE["platform"], "x": [1]}}
    body = device_list_body(json.dumps({"data": [extra], "meta": "free"}).encode())
    assert body["data"][0].platform.key == "espressif32" and body["meta"] == "free"


def test_unexpected_types_keep_the_list_with_every_value_as_text():
    odd = {**DEVICE, "name": 12345, "status": None, "platform": "ESP32", "board": {"key": 7}}
    devices = _summaries({"data": [odd, "not a device", DEVICE]})
    assert [d.uid for d in devices] == [DEVICE["uid"], DEVICE["uid"]]
    assert devices[0].name == "12345" and devices[0].status is None
    assert devices[0].platform == Named(name="ESP32")  # a bare name is still shown
    assert devices[0].board == Named(key="7")
    assert devices[1].name == "Greenhouse"


def test_a_body_in_another_unicode_encoding_is_still_read():
    (device,) = _summaries({"data": [DEVICE]}, encoding="utf-16")
    assert device.name == "Greenhouse"


def test_a_body_that_is_not_the_list_is_passed_on_to_be_refused():
    assert device_list_body(b'{"message": "no list here"}') == {"message": "no list here"}
    assert device_list_body(b"<html>oops</html>") is None


def test_the_list_survives_the_read_cache_storing_it():
    devices = _summaries({"data": [DEVICE, {**DEVICE, "uid": "espressif32_zzz"}]})
    cache.set("summaries", devices)  # pickled, as in Redis
    assert cache.get("summaries") == devices


def test_a_device_named_with_a_number_upstream_still_lists(as_viewer, emulator):
    uid = emulator.uids(TOKEN_A)[0]
    emulator.set_device(TOKEN_A, uid, name=4242)
    devices = IoTClient(TOKEN_A, base_url=emulator.url, timeout=2.0).list_devices()
    assert next(d for d in devices if d.uid == uid).name == "4242"
    page = as_viewer.get(reverse("devices:list"), {"q": "4242"}).content.decode()
    assert f'id="device-{uid}"' in page and ">4242</a>" in page
