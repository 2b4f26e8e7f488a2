"""Accessibility (axe-core) and phone width for the device list and detail pages.

axe-core comes bundled in the pinned PyPI package axe-playwright-python (no CDN).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from emulator.pytest_plugin import TOKEN_A

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.response["testEngine"]["name"] == "axe-core"  # it really ran
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def wait_for_panels(page) -> None:
    for panel in ("#commands-panel", "#buttons-panel", "#firmware-panel"):
        expect(page.locator(f"{panel}[aria-busy]")).to_have_count(0)


def test_the_device_list_has_no_serious_accessibility_violations(
    sign_in, users, emulator, live_server
):
    page = sign_in("maintainer")
    expect(page.locator("#device-rows tr").first).to_be_visible()
    assert serious_violations(page) == []


def test_the_device_detail_has_no_serious_accessibility_violations(
    sign_in, users, emulator, live_server
):
    page = sign_in("maintainer")
    uid = emulator.device_uid(TOKEN_A, "Garage Door")
    page.goto(f"{live_server.url}/devices/{uid}/")
    wait_for_panels(page)
    assert serious_violations(page) == []
    page.locator("#edit-name").click()  # the editor too
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    assert serious_violations(page) == []


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_the_pages_work_at_phone_width(browser, users, emulator, live_server):
    from tests.conftest import PASSWORD

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("operator")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#device-rows tr").first).to_be_visible()
        assert fits(page)
        page.get_by_label("Search name or uid").fill("kitchen")
        expect(page.locator("#device-rows tr")).to_have_count(1)
        page.get_by_role("link", name="Kitchen Relay").click()
        wait_for_panels(page)
        assert fits(page)
        page.locator("#action-reboot").click()
        page.locator("#confirm-dialog").get_by_role("button", name="Reboot").click()
        expect(page.locator("#commands-result")).to_contain_text("Reboot command sent.")
        assert fits(page)
    finally:
        context.close()
