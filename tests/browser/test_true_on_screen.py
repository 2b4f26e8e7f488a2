"""What the device and firmware pages show is true, as a user sees it in a real browser:
online from the one rule, the firmware panel's header agreeing with its cards, the upload's
version following the file, one level for one kind of answer."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from emulator.pytest_plugin import TOKEN_A
from portal.models import AuditEvent
from tests import firmware_samples as samples

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def confirm(page, label: str) -> None:
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=label).click()


def pick(page, name: str, data: bytes) -> None:
    page.get_by_label("Firmware file").set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}]
    )


def idf_image(version: str, salt: str) -> bytes:
    app = samples.app_description(version=version, project="greenhouse")
    return samples.esp32_image("ESP32", salt=salt, app=app)


# --- online ---------------------------------------------------------------------------------


def test_the_table_says_seen_recently_and_the_online_filter_finds_it_whatever_the_status_word(
    sign_in, users, emulator, live_server
):
    relay = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    emulator.set_device(TOKEN_A, relay, status="active", is_online=True)  # not its own word
    page = sign_in("viewer")
    page.goto(f"{live_server.url}/devices/?q=Kitchen")
    row = page.locator("tr", has_text="Kitchen Relay")
    expect(row.locator('td[data-label="Status"]')).to_have_text("active")
    cell = row.locator('td[data-label="Online"] span')
    expect(cell).to_have_text("Seen recently")
    expect(cell).to_have_attribute("title", re.compile(r"^Last seen \d{4}-\d\d-\d\d .*5 minutes"))

    page.get_by_label("Online").select_option("yes")
    expect(page).to_have_url(re.compile(r"online=yes"))
    expect(page.locator("#device-rows tr")).to_have_count(1)
    expect(page.locator("#device-rows")).to_contain_text("Kitchen Relay")

    page.get_by_role("link", name="Kitchen Relay").click()
    expect(page.locator("#device-live")).to_contain_text("Online")
    expect(page.locator("#device-live")).to_contain_text("active")


def test_table_and_page_agree_on_a_device_the_service_calls_offline_with_an_online_word(
    sign_in, users, emulator, live_server
):
    relay = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    emulator.set_device(TOKEN_A, relay, status="online", is_online=False)
    page = sign_in("viewer")
    page.goto(f"{live_server.url}/devices/{relay}/")
    expect(page.locator("#device-live dd span.offline")).to_have_text("Offline")
    expect(page.locator("#device-live")).not_to_contain_text("Seen recently")
    page.goto(f"{live_server.url}/devices/?q=Kitchen")
    # The list has no flag: it does not say "Online", it says what it knows.
    cell = page.locator('tr:has-text("Kitchen Relay") td[data-label="Online"]')
    expect(cell).to_have_text("Seen recently")
    expect(cell).not_to_have_text("Online")


# --- objects where text was expected ---------------------------------------------------------


def test_a_board_variant_object_reads_as_its_name_in_the_table_and_on_the_page(
    sign_in, users, emulator, live_server
):
    uid = emulator.device_uid(TOKEN_A, "Mailbox Notifier")  # its variant is an object
    page = sign_in("viewer")
    page.goto(f"{live_server.url}/devices/?q=Mailbox")
    expect(page.locator('td[data-label="Board"]')).to_have_text("ESP-07S (1MB)")
    page.goto(f"{live_server.url}/devices/{uid}/")
    expect(page.locator("dt:text-is('Board variant') + dd")).to_have_text("1MB")
    expect(page.locator("main")).not_to_contain_text("{'")


# --- the firmware panel agrees with itself ----------------------------------------------------


def header(page):
    return page.locator(".fw-device")


def test_after_an_ota_completes_the_header_names_the_new_current_firmware(
    sign_in, users, emulator, live_server
):
    uid = emulator.device_uid(TOKEN_A, "Greenhouse Sensor")  # current 1.2.0, target 1.3.0
    page = sign_in("maintainer")
    page.goto(f"{live_server.url}/devices/{uid}/firmware/")
    expect(header(page)).to_contain_text("Current: Greenhouse release 1.2.0")
    page.get_by_role("button", name="Start update").click()
    confirm(page, "Start update")
    expect(header(page)).to_contain_text("OTA: downloading")
    expect(page.locator("#ota-follow")).to_have_attribute("data-ota-state", "done", timeout=10_000)
    current = page.locator("article.fw-card.is-current")
    expect(current).to_contain_text("1.3.0")
    expect(header(page)).to_contain_text("Current: Greenhouse release 1.3.0")
    expect(header(page)).to_contain_text("OTA: done")


def test_after_upload_and_roll_out_the_header_names_the_new_target_and_current(
    sign_in, users, emulator, live_server
):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")  # current = target = 1.0.3
    page = sign_in("maintainer")
    page.goto(f"{live_server.url}/devices/{uid}/firmware/")
    expect(header(page)).to_contain_text("Target: Relay firmware 1.0.3")
    page.get_by_label("Name (required)").fill("Relay firmware")
    page.get_by_label("Version").fill("1.1.0")
    pick(page, "relay.bin", samples.esp8266_image(salt="rollout-header"))
    expect(page.locator("#image-check")).to_contain_text("Looks right for this device.")
    page.get_by_role("button", name="Upload and roll out").click()
    confirm(page, "Upload and roll out")
    expect(header(page)).to_contain_text("Target: Relay firmware 1.1.0")
    expect(page.locator("#ota-follow")).to_have_attribute("data-ota-state", "done", timeout=10_000)
    expect(page.locator("article.fw-card.is-current")).to_contain_text("1.1.0")
    expect(header(page)).to_contain_text("Current: Relay firmware 1.1.0")
    expect(header(page)).to_contain_text("OTA: done")


def test_after_editing_the_current_firmwares_version_the_header_shows_it(
    sign_in, users, emulator, live_server
):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    page = sign_in("maintainer")
    page.goto(f"{live_server.url}/devices/{uid}/firmware/")
    card = page.locator("article.fw-card.is-current")
    card.get_by_role("link", name="Edit").click()
    version = page.locator("article.fw-card form input[name=version]")
    version.fill("1.0.4")
    page.locator("article.fw-card form").get_by_role("button", name="Save").click()
    expect(page.locator("#firmware-result")).to_have_text(
        "Details of firmware “Relay firmware” 1.0.4 saved on Kitchen Relay."
    )
    expect(page.locator("article.fw-card.is-current .fw-version")).to_have_text("1.0.4")
    expect(header(page)).to_contain_text("Current: Relay firmware 1.0.4")
    expect(header(page)).to_contain_text("Target: Relay firmware 1.0.4")
    expect(header(page)).not_to_contain_text("1.0.3")


# --- the upload form's version follows the file ----------------------------------------------


def test_the_version_follows_each_file_picked_until_the_user_types_one(
    sign_in, users, emulator, live_server
):
    uid = emulator.device_uid(TOKEN_A, "Greenhouse Sensor")  # an ESP32
    page = sign_in("maintainer")
    page.goto(f"{live_server.url}/devices/{uid}/firmware/")
    version = page.get_by_label("Version")
    page.get_by_label("Name (required)").fill("Greenhouse release")

    pick(page, "first.bin", idf_image("2.0.0", "first"))
    expect(version).to_have_value("2.0.0")
    pick(page, "second.bin", idf_image("2.1.0", "second"))
    expect(page.locator("#image-check")).to_contain_text("2.1.0")
    expect(version).to_have_value("2.1.0")
    pick(page, "plain.bin", samples.esp32_image("ESP32", salt="no-app-description"))
    expect(page.locator("#image-check")).to_contain_text("ESP32")
    expect(version).to_have_value("")  # that file says no version: none is made up

    pick(page, "third.bin", idf_image("2.2.0", "third"))
    expect(version).to_have_value("2.2.0")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#upload-result")).to_contain_text("uploaded to")
    upload = AuditEvent.objects.filter(action="firmware.upload").latest("id")
    assert upload.sent["version"] == "2.2.0"
    listed = [fw["version"] for fw in emulator.state.list_firmwares(TOKEN_A, uid)]
    assert "2.2.0" in listed and "2.0.0" not in listed and "2.1.0" not in listed


def test_a_version_the_user_typed_is_kept_whatever_file_is_picked(
    sign_in, users, emulator, live_server
):
    uid = emulator.device_uid(TOKEN_A, "Greenhouse Sensor")
    page = sign_in("maintainer")
    page.goto(f"{live_server.url}/devices/{uid}/firmware/")
    version = page.get_by_label("Version")
    pick(page, "first.bin", idf_image("3.0.0", "typed-first"))
    expect(version).to_have_value("3.0.0")
    version.fill("3.0.0-hotfix")
    pick(page, "second.bin", idf_image("3.1.0", "typed-second"))
    expect(page.locator("#image-check")).to_contain_text("3.1.0")
    expect(version).to_have_value("3.0.0-hotfix")


# --- one level for one meaning ---------------------------------------------------------------


def test_a_device_offline_refusal_is_a_warning_in_both_panels(
    sign_in, users, emulator, live_server
):
    uid = emulator.device_uid(TOKEN_A, "Pool Pump Timer")  # offline, with a target firmware
    page = sign_in("maintainer")
    page.goto(f"{live_server.url}/devices/{uid}/")
    commands = page.locator("#commands-panel")
    commands.get_by_role("button", name="Reboot").click()
    confirm(page, "Reboot")
    refusal = commands.locator(".alert", has_text="Device is offline.")
    expect(refusal).to_have_class(re.compile(r"\balert-warning\b"))

    firmware = page.locator("#firmware-panel")
    firmware.get_by_role("button", name="Start update").click()
    confirm(page, "Start update")
    refusal = firmware.locator(".alert", has_text="Device is offline.")
    expect(refusal).to_have_class(re.compile(r"\balert-warning\b"))
