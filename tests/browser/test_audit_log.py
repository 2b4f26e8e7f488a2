"""The audit log in a real browser: its filters, and its table on a 1,366 px screen."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.models import AuditEvent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_UID = "espressif32_a1b2c3d4e5f6a7b8c9d0"
MD5 = "541f5aaeb8bd7b7a6f7339e8503485b1"

# Every word of the table outside long tokens (uids, addresses, JSON) on one line: a word
# drawn in two pieces has two boxes. A break after a hyphen is ordinary typography.
BROKEN_WORDS = """() => {
  const broken = [];
  const table = document.querySelector("table.audit");
  const walker = document.createTreeWalker(table, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest(".token, pre, summary")) continue;
    for (const match of node.textContent.matchAll(/[^\\s-]+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const boxes = [...range.getClientRects()].filter((box) => box.width > 0);
      if (boxes.length > 1) broken.push(match[0]);
    }
  }
  return broken;
}"""

OVERFLOWING_CELLS = """() => [...document.querySelectorAll("table.audit th, table.audit td")]
  .filter((cell) => cell.scrollWidth > cell.clientWidth + 1)
  .map((cell) => cell.textContent.trim().slice(0, 40))"""


def rows(users) -> None:
    def add(username: str, action: str, **fields) -> None:
        user = users.get(username)
        AuditEvent.objects.create(username=username, user=user, action=action, **fields)

    add("admin", "auth.sign_in", outcome="ok", ip="2001:db8:85a3::8a2e:370:7334")
    add(
        "operator",
        "device.rename",
        outcome="ok",
        device_uid="espressif8266_0Xmpdmd9CVzH",
        device_name="Kitchen Relay",
        sent={"name": "Pantry Relay", "from": "Kitchen Relay"},
        ip="203.0.113.45",
        token_label="Workshop devices",
        status_code=200,
        message="Name saved.",
    )
    add(
        "maintainer",
        "firmware.upload",
        outcome="rejected",
        device_uid=LONG_UID,
        device_name="Greenhouse Sensor in the far corner",
        sent={"name": "Release", "version": "2.4.1-rc3", "filename": "greenhouse.bin", "md5": MD5},
        ip="198.51.100.200",
        token_label="Greenhouse and garden sensors",
        status_code=409,
        message="A firmware with the same md5 already exists for this device: uploaded "
        "2026-11-27T04:57:13+00:00.",
    )
    add(
        "operator",
        "button.create",
        outcome="refused",
        device_uid="espressif32_bb",
        sent={"id": "open", "label": "Open door", "payload": {"relay": "on"}, "confirm": True},
        message="Id: Enter a valid “slug” consisting of letters, numbers, underscores or hyphens.",
    )


@pytest.mark.parametrize("width", [1280, 375], ids=lambda w: f"{w}px")
def test_the_audit_filters_find_a_device_by_part_of_its_old_name_and_a_user_by_the_list(
    sign_in, users, live_server, width
):
    rows(users)
    page = sign_in("admin")
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{live_server.url}/audit/")
    table = page.locator("#audit-table")
    expect(table).to_contain_text("Renamed device")

    page.get_by_label("Device").fill("kitchen")
    page.get_by_label("Device").press("Enter")
    expect(page).to_have_url(re.compile(r"device=kitchen"))
    expect(table).to_contain_text("Kitchen Relay")
    expect(table).not_to_contain_text("Greenhouse Sensor")

    page.get_by_role("link", name="Clear").click()
    page.get_by_label("User:", exact=True).select_option("maintainer")
    expect(page).to_have_url(re.compile(r"user=maintainer"))
    expect(table).to_contain_text("Uploaded firmware")
    expect(table).not_to_contain_text("Renamed device")

    page.get_by_label("User:", exact=True).select_option("")
    page.get_by_label("Action").select_option(label="Created command button")
    expect(page).to_have_url(re.compile(r"action=button\.create"))
    expect(table).to_contain_text("Created command button")
    expect(table).not_to_contain_text("Uploaded firmware")

    # On a phone the rows stack: nothing scrolls sideways.
    page.get_by_role("link", name="Clear").click()
    expect(table).to_contain_text("Greenhouse Sensor in the far corner")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.csp_violations == []


def test_the_table_fits_1366_px_without_breaking_a_word_and_shows_sent_json(
    sign_in, users, live_server
):
    rows(users)
    page = sign_in("admin")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/audit/")
    table = page.locator("table.audit")
    expect(table).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    scroll = page.locator(".table-scroll")
    assert scroll.evaluate("el => el.scrollWidth <= el.clientWidth")
    assert page.evaluate(OVERFLOWING_CELLS) == []
    assert page.evaluate(BROKEN_WORDS) == []

    # The action in words, its code on hover; the device by its name then and its uid.
    action = table.get_by_text("Uploaded firmware")
    expect(action).to_have_attribute("title", "firmware.upload")
    expect(table).to_contain_text("Greenhouse Sensor in the far corner")
    expect(table).to_contain_text(LONG_UID)

    # Long JSON folds to one line and opens as the JSON sent, pretty.
    details = table.locator("tr", has_text="Uploaded firmware").locator("details.sent")
    details.locator("summary").click()
    pretty = details.locator("pre")
    expect(pretty).to_be_visible()
    assert f'"md5": "{MD5}"' in pretty.inner_text() and "\n" in pretty.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    assert scroll.evaluate("el => el.scrollWidth <= el.clientWidth")
    assert page.csp_violations == []
