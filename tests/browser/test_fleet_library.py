"""The firmware library in a real browser, at 1280 and 375 px: add a build with its checks and
progress, see it with its md5, look for it on the devices, delete it after confirming; axe-core
over each page."""

from __future__ import annotations

import hashlib

import pytest
from playwright.sync_api import expect

from emulator.pytest_plugin import TOKEN_A
from fleet.models import Build
from tests import firmware_samples as samples
from tests.browser.test_device_quality import fits, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=[1280, 375], ids=lambda w: f"{w}px")
def width(request, page):
    page.set_viewport_size({"width": request.param, "height": 900})
    return request.param


def confirm(page, label: str) -> None:
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=label).click()


def test_a_maintainer_adds_a_build_finds_it_on_the_devices_and_deletes_it(
    sign_in, users, emulator, live_server, width
):
    data = samples.esp32_image(size=1_200_000, salt="library", app=samples.app_description("4.0.2"))
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    page = sign_in("maintainer")
    page.goto(f"{live_server.url}/devices/")
    page.get_by_role("link", name="Firmware library").click()
    expect(page.get_by_role("heading", name="Firmware library")).to_be_visible()
    expect(page.get_by_text("No builds yet.")).to_be_visible()
    assert serious_violations(page) == [] and fits(page)

    page.get_by_label("Name (required)").fill("Sensor firmware")
    page.get_by_label("Firmware file").set_input_files(
        files=[{"name": "sensor.bin", "mimeType": "application/octet-stream", "buffer": data}]
    )
    check = page.locator("#image-check")
    expect(check).to_contain_text("ESP32 application image. Built for ESP32.")
    expect(page.get_by_label("Version")).to_have_value("4.0.2")  # from the app description
    assert serious_violations(page) == []
    page.get_by_role("button", name="Add to library").click()
    expect(page.locator("#upload-progress-text")).to_have_text("Sent 100%")
    result = page.locator("#upload-result")
    expect(result).to_contain_text(
        f"Build “Sensor firmware” 4.0.2 added to the library (md5 {md5})."
    )
    expect(page.locator("#builds")).to_contain_text(md5)  # the table, redrawn beside it
    expect(page.get_by_label("Name (required)")).to_have_value("")  # the form starts afresh
    assert fits(page)

    result.get_by_role("link", name="Open Sensor firmware 4.0.2").click()
    expect(page.locator("#build-md5")).to_have_text(md5)
    expect(page.locator("#build-check")).to_contain_text(
        "ESP32 application image, built for ESP32."
    )
    expect(page.locator("#places")).to_contain_text("Nobody has looked for it on the devices yet.")
    assert serious_violations(page) == [] and fits(page)

    page.get_by_role("button", name="Look at the next 10 devices").click()
    fleet = len(emulator.uids(TOKEN_A))
    expect(page.locator("#places")).to_contain_text(f"Looked at 10 of {fleet} devices")
    expect(page.locator("#count-running")).to_have_text("0")
    expect(page.locator("#places-table tbody tr")).to_have_count(10)
    assert serious_violations(page) == [] and fits(page)

    page.get_by_role("button", name="Delete build").click()
    expect(page.locator("#confirm-dialog")).to_contain_text(
        "Delete the build “Sensor firmware” 4.0.2 from the library?"
    )
    confirm(page, "Delete")
    expect(page.get_by_role("heading", name="Firmware library")).to_be_visible()
    expect(page.locator(".flash")).to_contain_text("Build “Sensor firmware” 4.0.2 deleted")
    expect(page.get_by_text("No builds yet.")).to_be_visible()
    assert not Build.objects.exists()
    assert page.csp_violations == []


def test_a_duplicate_points_to_the_build_already_there(sign_in, users, emulator, live_server):
    data = samples.esp8266_image(size=40_000, salt="library twice")
    page = sign_in("maintainer")
    page.goto(f"{live_server.url}/fleet/library/")
    for name in ("First", "Second"):
        page.get_by_label("Name (required)").fill(name)
        page.get_by_label("Firmware file").set_input_files(
            files=[{"name": "a.bin", "mimeType": "application/octet-stream", "buffer": data}]
        )
        expect(page.locator("#image-check")).to_contain_text("ESP8266 application image")
        page.get_by_role("button", name="Add to library").click()
        expect(page.locator("#upload-result")).to_contain_text(
            name if name == "First" else "already"
        )
    result = page.locator("#upload-result")
    expect(result).to_contain_text("This file is already in the library: “First”")
    result.get_by_role("link", name="First").click()
    expect(page.get_by_role("heading", name="First")).to_be_visible()
    assert Build.objects.count() == 1
    assert page.csp_violations == []
