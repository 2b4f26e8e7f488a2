"""Uploading firmware: the 4 MB limit, the image checks, md5, duplicates and the roll-out."""

from __future__ import annotations

import hashlib
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from portal.iot import FIRMWARE_TOO_LARGE, IoTClient
from portal.models import AuditEvent
from tests import firmware_samples as samples

MB4 = 4 * 1024 * 1024
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def relay(emulator):
    """An online ESP8266 (ESP-07S)."""
    return emulator.device_uid(TOKEN_A, "Kitchen Relay")


@pytest.fixture
def greenhouse(emulator):
    """An online ESP32 DevKit."""
    return emulator.device_uid(TOKEN_A, "Greenhouse Sensor")


def post(client, uid, data: bytes, name="Release", filename="app.bin", headers=HTMX, **fields):
    payload = {"name": name, "version": "", "notes": "", **fields}
    payload["file"] = SimpleUploadedFile(filename, data, "application/octet-stream")
    return client.post(reverse("firmware:upload", args=[uid]), payload, **headers)


def api_calls(emulator, method=None):
    return [e for e in emulator.request_log if method is None or e["method"] == method]


def test_it_accepts_a_file_of_exactly_4_mb(as_maintainer, emulator, greenhouse):
    data = samples.sized(MB4, salt="exactly-4mb")
    response = post(as_maintainer, greenhouse, data)
    body = response.content.decode()
    assert response.status_code == 200
    assert "uploaded to Greenhouse Sensor." in body
    assert hashlib.md5(data, usedforsecurity=False).hexdigest() in body
    assert len(api_calls(emulator, "POST")) == 1


def test_it_refuses_4_mb_and_one_byte_before_any_upstream_request(as_maintainer, emulator, relay):
    emulator.clear_log()
    response = post(as_maintainer, relay, samples.sized(MB4 + 1), name="Too big")
    body = response.content.decode()
    assert FIRMWARE_TOO_LARGE in body
    assert 'value="Too big"' in body  # what was typed is kept
    assert emulator.request_log == []
    event = AuditEvent.objects.get(action="firmware.upload")
    assert event.outcome == AuditEvent.Outcome.REFUSED and event.message == FIRMWARE_TOO_LARGE


def test_it_refuses_a_far_too_big_body_without_reading_it(as_maintainer, emulator, relay):
    emulator.clear_log()
    response = post(as_maintainer, relay, b"\xe9" * (MB4 + 200_000), headers={})
    assert response.status_code == 413
    assert FIRMWARE_TOO_LARGE in response.content.decode()
    assert emulator.request_log == []
    assert AuditEvent.objects.get(action="firmware.upload").outcome == "refused"


def test_it_computes_the_md5_and_records_the_upload(as_maintainer, emulator, relay):
    data = samples.esp8266_image(salt="audited")
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    body = post(as_maintainer, relay, data, name="Relay 1.1", version="1.1").content.decode()
    assert "confirmed by the device service" in body
    assert 'hx-swap-oob="true"' in body and "Relay 1.1" in body  # the list is refreshed
    event = AuditEvent.objects.get(action="firmware.upload")
    assert event.outcome == "ok" and event.device_uid == relay
    assert event.sent["md5"] == md5 and event.sent["md5_upstream"] == md5
    assert event.sent["name"] == "Relay 1.1" and event.sent["bytes"] == len(data)


def test_it_warns_loudly_when_the_upstream_md5_differs(as_maintainer, emulator, relay, monkeypatch):
    # The emulator always hashes what it received; a damaged transfer needs a stand-in.
    original = IoTClient.upload_firmware

    def damaged(self, uid, **kwargs):
        return {**original(self, uid, **kwargs), "md5": "0" * 32}

    monkeypatch.setattr(IoTClient, "upload_firmware", damaged)
    body = post(as_maintainer, relay, samples.esp8266_image(salt="damaged")).content.decode()
    assert "md5 mismatch!" in body
    assert "reports md5 00000000000000000000000000000000" in body
    assert "Do not roll it out" in body


def test_it_shows_the_duplicate_message_with_a_link_to_the_existing_firmware(
    as_maintainer, emulator, relay
):
    data = samples.esp8266_image(salt="duplicate")
    post(as_maintainer, relay, data, name="First")
    existing = next(
        fw
        for fw in emulator.state.list_firmwares(TOKEN_A, relay)
        if fw["md5"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    )
    body = post(as_maintainer, relay, data, name="Second").content.decode()
    assert "This firmware file is already uploaded." in body
    assert f'href="#firmware-{existing["id"]}"' in body
    rejected = AuditEvent.objects.filter(action="firmware.upload", outcome="rejected").get()
    assert rejected.sent["md5"] == existing["md5"]


def test_it_asks_before_uploading_a_file_whose_checks_warn(as_maintainer, emulator, relay):
    emulator.clear_log()
    response = post(as_maintainer, relay, samples.esp32_image("ESP32-C3", salt="c3"))
    body = response.content.decode()
    assert response["HX-Retarget"] == "#image-check"
    assert "This image is built for an ESP32-C3, but this device is an ESP8266 (ESP-07S)." in body
    assert 'name="upload_anyway"' in body
    assert api_calls(emulator, "POST") == []


def test_it_uploads_after_the_warning_is_confirmed(as_maintainer, emulator, relay):
    data = samples.esp32_image("ESP32-C3", salt="confirmed")
    body = post(as_maintainer, relay, data, upload_anyway="on").content.decode()
    assert "uploaded to Kitchen Relay." in body
    event = AuditEvent.objects.get(action="firmware.upload")
    assert "ESP32-C3" in event.sent["warnings_confirmed"][0]


@pytest.mark.parametrize(
    ("data", "looks_like"),
    [(samples.zip_file(), "a zip archive"), (samples.text_file(), "a text file")],
)
def test_it_names_a_file_that_is_not_firmware(as_maintainer, emulator, relay, data, looks_like):
    body = post(as_maintainer, relay, data, filename="build.zip").content.decode()
    assert f"This is not an ESP firmware image: it looks like {looks_like}." in body


def test_it_refuses_an_empty_file_even_when_confirmed(as_maintainer, emulator, relay):
    emulator.clear_log()
    body = post(as_maintainer, relay, b"", upload_anyway="on").content.decode()
    assert "The file is empty." in body
    assert api_calls(emulator, "POST") == []


def test_it_checks_the_first_bytes_the_browser_sends(as_maintainer, emulator, greenhouse):
    app = samples.app_description(version="3.0.0-rc1", project="greenhouse")
    head = samples.esp32_image("ESP32", app=app)[:4096]
    response = as_maintainer.post(
        reverse("firmware:check", args=[greenhouse]),
        {"head": SimpleUploadedFile("head.bin", head), "size": "900000"},
    )
    body = response.content.decode()
    assert "ESP32 application image" in body and "Looks right for this device." in body
    assert 'data-suggested-version="3.0.0-rc1"' in body and "v5.1.4" in body


def test_the_check_refuses_a_size_over_4_mb(as_maintainer, emulator, greenhouse):
    response = as_maintainer.post(
        reverse("firmware:check", args=[greenhouse]),
        {"head": SimpleUploadedFile("head.bin", b"\xe9"), "size": str(MB4 + 1)},
    )
    assert FIRMWARE_TOO_LARGE in response.content.decode()


def test_it_keeps_typed_fields_when_the_name_is_missing(as_maintainer, emulator, relay):
    body = post(as_maintainer, relay, samples.esp8266_image(), name="", version="9.9").content
    assert b"This field is required." in body and b'value="9.9"' in body


def test_it_rolls_out_step_by_step_with_htmx(as_maintainer, emulator, relay):
    data = samples.esp8266_image(salt="rollout-htmx")
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    body = post(as_maintainer, relay, data, rollout="1").content.decode()
    assert "<strong>Upload:</strong>" in body and 'hx-trigger="load"' in body
    assert f'"md5": "{md5}"' in body
    target = reverse("firmware:set_target", args=[relay])
    step = as_maintainer.post(target, {"md5": md5, "confirmed": "yes", "rollout": "1"}, **HTMX)
    assert "Firmware assigned to device." in step.content.decode()
    assert reverse("firmware:ota", args=[relay]) in step.content.decode()
    ota = reverse("firmware:ota", args=[relay])
    step = as_maintainer.post(ota, {"confirmed": "yes", "rollout": "1"}, **HTMX)
    assert "OTA check triggered." in step.content.decode()
    assert reverse("firmware:follow", args=[relay]) in step.content.decode()
    time.sleep(1.1)  # the test emulator's OTA takes 1 s
    follow = as_maintainer.get(reverse("firmware:follow", args=[relay]), **HTMX)
    assert "OTA update: done." in follow.content.decode()
    device = IoTClient(TOKEN_A, base_url=emulator.url).get_device(relay)
    assert device["current_firmware"]["md5"] == md5


def test_a_plain_post_rolls_out_and_stops_at_the_first_failure(as_maintainer, emulator):
    offline = emulator.device_uid(TOKEN_A, "Pool Pump Timer")
    data = samples.esp32_image("ESP32", salt="offline-rollout")
    body = post(as_maintainer, offline, data, rollout="1", headers={}).content.decode()
    assert "Firmware assigned to device." in body
    assert "Device is offline." in body
    assert 'id="ota-follow"' not in body
    outcomes = dict(AuditEvent.objects.values_list("action", "outcome"))
    assert outcomes == {
        "firmware.upload": "ok",
        "firmware.set_target": "ok",
        "firmware.ota": "rejected",
    }
