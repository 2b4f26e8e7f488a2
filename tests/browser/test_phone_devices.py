"""The device list on a phone: compact, sortable, and long names and uids cut short with the
whole value still reachable (on hover, and on the device's page) everywhere they appear."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from emulator.pytest_plugin import TOKEN_A
from portal.models import AuditEvent
from tests.browser.test_device_quality import wait_for_panels
from tests.browser.test_every_page import LONG_NAME, LONG_UID, overflow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}


def visible_rows(page) -> list[dict]:
    """The device rows wholly inside the viewport, with the cells a reader can see in each."""
    return page.evaluate(
        """() => [...document.querySelectorAll("#device-rows tr")].map(row => {
          const box = row.getBoundingClientRect();
          const seen = label => {
            const cell = row.querySelector(`td[data-label="${label}"]`);
            const r = cell.getBoundingClientRect();
            const inside = r.width > 0 && r.height > 0 && r.left >= 0
              && r.right <= innerWidth && r.bottom <= innerHeight;
            return inside ? cell.innerText.trim() : null;
          };
          return {top: box.top, bottom: box.bottom, name: seen("Name"),
                  online: seen("Online"), seen: seen("Last seen")};
        }).filter(row => row.top >= 0 && row.bottom <= innerHeight)"""
    )


def test_a_phone_shows_five_devices_or_more_with_name_online_state_and_last_seen(
    sign_in, users, emulator, live_server
):
    page = sign_in("operator")
    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("#device-rows tr").first).to_be_visible()
    rows = visible_rows(page)
    assert len(rows) >= 5, rows
    for row in rows:
        assert row["name"] and row["online"] and row["seen"], row
    assert rows[0]["name"] == "Aquarium Heater"
    assert overflow(page) is None


def test_a_phone_sorts_the_list_and_the_sort_stays_in_the_address(
    sign_in, users, emulator, live_server
):
    page = sign_in("viewer")
    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("#sort-name")).to_be_hidden()  # the headings are not shown here
    sort = page.get_by_label("Sort by")
    expect(sort).to_be_visible()
    expect(sort).to_have_value("name")
    sort.select_option(label="Name, Z to A")
    expect(page).to_have_url(re.compile(r"[?&]sort=-name"))
    names = page.locator('#device-rows td[data-label="Name"]')
    expect(names.first).to_have_text("Workshop Dust Collector")
    # A search keeps the sort, and a sort keeps the search.
    page.get_by_label("Search name or uid").fill("door")
    expect(page).to_have_url(re.compile(r"q=door"))
    expect(page).to_have_url(re.compile(r"sort=-name"))
    expect(names).to_have_text(["Garage Door", "Doorbell Camera Bridge", "Chicken Coop Door"])
    page.get_by_label("Sort by").select_option(label="Last seen, most recent first")
    expect(page).to_have_url(re.compile(r"q=door.*sort=-last_seen|sort=-last_seen.*q=door"))
    expect(page.get_by_label("Sort by")).to_have_value("-last_seen")
    page.reload()  # a bookmarked view comes back sorted
    expect(page.get_by_label("Sort by")).to_have_value("-last_seen")
    expect(page.get_by_label("Search name or uid")).to_have_value("door")
    # The menu follows the headings where they are shown.
    page.set_viewport_size({"width": 1280, "height": 900})
    expect(page.get_by_label("Sort by")).to_be_hidden()
    page.get_by_role("link", name="Board").click()
    expect(page).to_have_url(re.compile(r"sort=board"))
    expect(page.locator("#id_sort")).to_have_value("board")
    assert page.csp_violations == []


def test_the_sort_menu_works_without_javascript(browser, users, emulator, live_server):
    from tests.browser.test_every_page import context_of
    from tests.browser.test_every_page import sign_in as sign_in_page

    with context_of(browser, 360, javascript=False) as page:
        sign_in_page(page, live_server.url, "viewer")
        page.get_by_label("Sort by").select_option("-name")
        page.get_by_role("button", name="Apply").click()
        expect(page).to_have_url(re.compile(r"sort=-name"))
        first = page.locator('#device-rows td[data-label="Name"]').first
        expect(first).to_have_text("Workshop Dust Collector")


@pytest.fixture
def long_device(emulator):
    emulator.copy_device(TOKEN_A, emulator.device_uid(TOKEN_A, "Garage Door"), LONG_UID)
    emulator.set_device(TOKEN_A, LONG_UID, name=LONG_NAME)
    return LONG_UID


@pytest.mark.parametrize("width", [1280, 375])
def test_a_long_name_and_uid_are_cut_short_in_the_list_with_the_whole_value_on_hover(
    sign_in, users, emulator, live_server, long_device, width
):
    page = sign_in("operator")
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{live_server.url}/devices/?q=Greenhouse-north")
    link = page.get_by_role("link", name=LONG_NAME)
    expect(link).to_have_attribute("title", LONG_NAME)
    expect(page.locator(f'code[title="{LONG_UID}"]')).to_have_count(1)
    row = page.locator("#device-rows tr").first
    # Cut short: the row stays a row (two lines on a phone, a few on a desktop).
    assert row.bounding_box()["height"] < (70 if width < 700 else 160)
    assert overflow(page) is None
    link.click()  # and the whole of it on the device's page
    wait_for_panels(page)
    expect(page.locator("#device-title")).to_have_text(LONG_NAME)
    expect(page.locator(".crumbs code")).to_have_text(LONG_UID)
    assert overflow(page) is None


@pytest.mark.parametrize("width", [1280, 375])
def test_a_long_name_and_uid_wrap_whole_in_the_audit_log(
    sign_in, users, emulator, live_server, long_device, width
):
    AuditEvent.objects.create(
        username="operator", device_uid=LONG_UID, device_name=LONG_NAME[:100],
        action="device.reboot", outcome="ok",
    )  # fmt: skip
    page = sign_in("admin")
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{live_server.url}/audit/?action=device.reboot")
    cell = page.locator("#audit-table tbody tr").first.locator('td[data-label="Device"]')
    expect(cell.locator(".device-name")).to_have_text(LONG_NAME[:100])
    uid = cell.locator("code")
    assert uid.inner_text().replace("\n", "") == LONG_UID  # all of it, on screen
    box = uid.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    assert overflow(page) is None
