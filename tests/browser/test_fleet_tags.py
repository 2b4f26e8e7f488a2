"""Tags and the selection in a real browser, at desktop and phone width: select by search,
the selection kept across pages, tags added in bulk and filtered on, a device's tags panel by
keyboard, and axe-core over the new pages and the selection bar."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from emulator.pytest_plugin import TOKEN_A
from fleet import tags
from portal.models import AuditEvent
from tests.browser.test_device_quality import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [1280, 375]


@pytest.fixture
def paged(settings):
    settings.PORTAL_PAGE_SIZE = 5  # the demo fleet's devices over several pages


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("width", WIDTHS)
def test_select_all_matching_survives_paging_then_tag_in_bulk_and_filter_on_it(
    sign_in, users, emulator, live_server, paged, token_a, width
):
    page = sign_in("operator")
    page.set_viewport_size({"width": width, "height": 900})
    page.get_by_label("Search name or uid").fill("espressif")
    expect(page).to_have_url(re.compile(r"q=espressif"))
    total = len(emulator.state.list_devices(TOKEN_A))
    select_all = page.get_by_role("button", name=re.compile(r"Select all \d+ matching"))
    select_all.click()
    count = page.locator("#selection-count")
    expect(count).to_contain_text(f"{total} devices selected")
    expect(page.locator("#device-rows input.pick-box:not(:checked)")).to_have_count(0)
    page.locator("#page-next").click()  # the next page: its boxes are ticked too
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page.locator("#device-rows input.pick-box").first).to_be_checked()
    expect(page.locator("#device-rows input.pick-box:not(:checked)")).to_have_count(0)
    if width > 700:
        page.locator("#sort-uid").click()  # and after a sort
    else:  # a phone's table has no headings to click: the sort comes from the address
        page.goto(page.url + "&sort=uid")
    expect(page).to_have_url(re.compile(r"sort=uid"))
    expect(count).to_contain_text(f"{total} devices selected")

    # One box unticked by keyboard: the count follows, focus stays on the box.
    box = page.locator("#device-rows input.pick-box").first
    box.focus()
    page.keyboard.press("Space")
    expect(count).to_contain_text(f"{total - 1} devices selected")
    expect(page.locator("#device-rows input.pick-box").first).to_be_focused()
    expect(page.locator("#device-rows input.pick-box").first).not_to_be_checked()
    assert fits(page), "the table and its bar fit the width"

    if width <= 700:  # a phone keeps the actions behind "Actions"
        page.locator("#selection-actions > summary").click()
    page.get_by_label("Tag for the selected devices").fill("Bulk batch")
    with page.expect_navigation():
        page.locator("#bulk-tag-add").click()
    expect(page.locator("body")).to_contain_text(f"Tag “Bulk batch” added to {total - 1} devices.")
    assert len(tags.uids_with(token_a, "bulk batch")) == total - 1
    assert AuditEvent.objects.filter(action="tag.add", outcome="ok").count() == total - 1

    page.goto(f"{live_server.url}/devices/")
    page.locator("#id_tag").select_option("Bulk batch")
    expect(page).to_have_url(re.compile(r"tag=Bulk(%20|\+)batch"))
    expect(page.locator(".summary")).to_contain_text(f"{total - 1} of {total} devices")
    expect(page.locator('#device-rows a.tag:text("Bulk batch")').first).to_be_visible()
    assert page.csp_violations == []


def test_a_devices_tags_are_added_and_removed_by_keyboard(sign_in, users, emulator, live_server):
    page = sign_in("operator")
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    page.goto(f"{live_server.url}/devices/{uid}/")
    field = page.get_by_label("Add a tag")
    field.focus()
    page.keyboard.type("Kitchen")
    page.keyboard.press("Enter")
    panel = page.locator("#tags-panel")
    expect(panel).to_contain_text("Tag “Kitchen” added to Kitchen Relay.")
    expect(panel.locator("a.tag")).to_have_text(["Kitchen"])
    page.get_by_label("Add a tag").fill("x" * 40 + "\u0007")  # maxlength keeps 40; still fine
    page.get_by_label("Add a tag").fill("Pantry")
    page.get_by_role("button", name="Add tag").click()
    expect(panel.locator("a.tag")).to_have_text(["Kitchen", "Pantry"])
    page.get_by_role("button", name="Remove the tag Kitchen").click()
    expect(panel).to_contain_text("Tag “Kitchen” removed from Kitchen Relay.")
    expect(panel.locator("a.tag")).to_have_text(["Pantry"])
    assert AuditEvent.objects.filter(action__in=["tag.add", "tag.remove"]).count() == 3
    assert page.csp_violations == []


@pytest.mark.parametrize("width", WIDTHS)
def test_the_new_pages_and_the_bar_have_no_serious_accessibility_violations(
    sign_in, users, emulator, live_server, paged, width
):
    page = sign_in("maintainer")
    page.set_viewport_size({"width": width, "height": 900})
    page.locator("#select-page").click()
    expect(page.locator("#selection-count")).to_contain_text("5 devices selected")
    assert serious_violations(page) == []
    assert fits(page)
    uid = emulator.device_uid(TOKEN_A, "Garage Door")
    page.goto(f"{live_server.url}/devices/{uid}/")
    page.get_by_label("Add a tag").fill("Doors")
    page.get_by_role("button", name="Add tag").click()
    expect(page.locator("#tags-panel a.tag")).to_have_text(["Doors"])
    expect(page.locator("[aria-busy]")).to_have_count(0)
    assert serious_violations(page) == []
    page.goto(f"{live_server.url}/fleet/tags/")
    expect(page.get_by_role("link", name="Doors")).to_be_visible()
    assert serious_violations(page) == []
    assert fits(page)
    page.get_by_role("link", name="Doors").click()
    expect(page.locator("#device-rows tr")).to_have_count(1)


def test_without_javascript_the_boxes_and_the_tag_forms_still_work(
    browser, users, emulator, live_server, paged, token_a
):
    from tests.conftest import PASSWORD

    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#device-rows input.pick-box").nth(1).check()
    page.get_by_role("button", name="Update the selection from the boxes").click()
    expect(page.locator("#selection-count")).to_contain_text("1 device selected")
    page.get_by_label("Tag for the selected devices").fill("No script")
    page.locator("#bulk-tag-add").click()
    expect(page.locator("body")).to_contain_text("Tag “No script” added to 1 device.")
    assert len(tags.uids_with(token_a, "no script")) == 1
    context.close()
