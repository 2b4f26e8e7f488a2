"""The firmware panel in a real browser: checks, upload with progress, target, OTA, follow."""

from __future__ import annotations

import hashlib

import pytest
from playwright.sync_api import expect

from emulator.pytest_plugin import TOKEN_A
from portal.iot import FIRMWARE_TOO_LARGE, IoTClient
from tests import firmware_samples as samples

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def confirm(page, label: str) -> None:
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=label).click()


def test_a_maintainer_uploads_targets_and_rolls_out_firmware(sign_in, users, emulator, live_server):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    data = samples.esp8266_image(size=1_500_000, salt="browser-flow")
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    page = sign_in("maintainer")
    page.goto(f"{live_server.url}/devices/{uid}/firmware/")

    page.get_by_label("Name (required)").fill("Relay firmware")
    page.get_by_label("Version").fill("1.1.0")
    page.get_by_label("Firmware file").set_input_files(
        files=[{"name": "relay.bin", "mimeType": "application/octet-stream", "buffer": data}]
    )
    expect(page.locator("#image-check")).to_contain_text("ESP8266 application image")
    expect(page.locator("#image-check")).to_contain_text("Looks right for this device.")
    page.get_by_role("button", name="Upload", exact=True).click()

    progress = page.locator("#upload-progress")
    expect(progress).to_be_visible()
    expect(page.locator("#upload-progress-text")).to_have_text("Sent 100%")
    expect(page.locator("#upload-result")).to_contain_text(
        "Firmware “Relay firmware” 1.1.0 uploaded to Kitchen Relay."
    )
    expect(page.locator("#upload-result")).to_contain_text(md5)

    card = page.locator("article.fw-card", has_text=md5)
    card.get_by_role("button", name="Set as target").click()
    confirm(page, "Set target")
    expect(page.locator("#firmware-result")).to_have_text(
        "Firmware “Relay firmware” 1.1.0 set as target of Kitchen Relay: "
        "Firmware assigned to device."
    )
    expect(page.locator("article.fw-card", has_text=md5).locator(".badge-target")).to_be_visible()

    page.get_by_role("button", name="Start update").click()
    confirm(page, "Start update")
    expect(page.locator("#firmware-result")).to_have_text(
        "Update started on Kitchen Relay: OTA check triggered."
    )
    follow = page.locator("#ota-follow")
    expect(follow).to_have_attribute("data-ota-state", "done", timeout=10_000)
    expect(follow).to_contain_text("OTA update: done.")
    expect(page.locator("article.fw-card", has_text=md5).locator(".badge-current")).to_be_visible()

    device = IoTClient(TOKEN_A, base_url=emulator.url).get_device(uid)
    assert device["current_firmware"]["md5"] == md5
    assert page.csp_violations == []


def test_the_browser_refuses_a_file_over_4_mb_before_sending(sign_in, users, emulator, live_server):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    page = sign_in("maintainer")
    page.goto(f"{live_server.url}/devices/{uid}/firmware/")
    page.get_by_label("Name (required)").fill("Too big")
    page.get_by_label("Firmware file").set_input_files(
        files=[{"name": "big.bin", "mimeType": "application/octet-stream",
                "buffer": b"\xe9" * (4 * 1024 * 1024 + 1)}]
    )  # fmt: skip
    expect(page.locator("#image-check")).to_contain_text(FIRMWARE_TOO_LARGE)
    emulator.clear_log()
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#upload-result")).to_be_empty()
    assert [e for e in emulator.request_log if e["method"] == "POST"] == []


def test_a_warning_is_confirmed_and_the_app_version_offered(sign_in, users, emulator, live_server):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")  # an ESP8266
    app = samples.app_description(version="5.0.2", project="relay-idf")
    data = samples.esp32_image("ESP32-C3", salt="browser-warning", app=app)
    page = sign_in("maintainer")
    page.goto(f"{live_server.url}/devices/{uid}/firmware/")
    page.get_by_label("Name (required)").fill("Wrong chip")
    page.get_by_label("Firmware file").set_input_files(
        files=[{"name": "c3.bin", "mimeType": "application/octet-stream", "buffer": data}]
    )
    check = page.locator("#image-check")
    expect(check).to_contain_text("built for an ESP32-C3, but this device is an ESP8266")
    expect(check).to_contain_text("relay-idf")
    expect(page.get_by_label("Version")).to_have_value("5.0.2")
    page.get_by_label("Upload anyway").check()
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#upload-result")).to_contain_text("uploaded to Kitchen Relay.")


def test_the_panel_inside_the_device_page_checks_files_too(sign_in, users, emulator, live_server):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    page = sign_in("maintainer")
    page.goto(f"{live_server.url}/devices/{uid}/")
    panel = page.locator("#firmware-panel")
    panel.get_by_label("Name (required)").fill("Too big")
    panel.get_by_label("Firmware file").set_input_files(
        files=[{"name": "big.bin", "mimeType": "application/octet-stream",
                "buffer": b"\xe9" * (4 * 1024 * 1024 + 1)}]
    )  # fmt: skip
    expect(panel.locator("#image-check")).to_contain_text(FIRMWARE_TOO_LARGE)
    assert page.csp_violations == []
