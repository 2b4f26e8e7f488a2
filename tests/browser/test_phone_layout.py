"""The portal on a phone: no page is wider than the screen (360 and 390 px), the device list is
compact and sorts with a Sort by menu (with JavaScript and without), and a long name cut
short keeps its whole value in its title.

The tour of every page uses one browser context per width and one page in it, and waits for
what each page draws (its panels, its rows), never for a fixed time: the whole module runs in
well under a minute.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from axes.models import AccessAttempt
from playwright.sync_api import Page, expect

from emulator.pytest_plugin import TOKEN_A
from portal.models import AuditEvent
from tests.browser.test_device_quality import wait_for_panels
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Long values with no space to break at: the worst case for a narrow screen.
LONG_UID = "esp32_" + "a1b2c3d4e5" * 9 + "f6g7"  # 100 characters, the most a uid may have
LONG_NAME = "Greenhouse-north-" + "x" * 238  # 255 characters, the most a name may have
WORDY_NAME = "Greenhouse north bench irrigation controller (second floor, by the east door)"
PHONE = {"width": 360, "height": 740}

# What reaches past the viewport: the page's own scroll width, then every element's box, cut
# to what its ancestors that hide overflow let show (a table in a box that scrolls sideways
# still counts: that box scrolls). An element wholly left of the screen (the skip link,
# waiting for focus) is hidden on purpose.
MEASURE = """() => {
  const width = window.innerWidth;
  const wide = [];
  const clips = new Map();
  const clipOf = el => {
    // [left, right] that el's overflow-hiding ancestors leave visible (memoised).
    if (!el || el === document.body) return [-Infinity, Infinity];
    if (clips.has(el)) return clips.get(el);
    let [left, right] = clipOf(el.parentElement);
    const style = getComputedStyle(el);
    if (["hidden", "clip"].includes(style.overflowX) || style.clip !== "auto") {
      const box = el.getBoundingClientRect();
      left = Math.max(left, box.left);
      right = Math.min(right, box.right);
    }
    clips.set(el, [left, right]);
    return [left, right];
  };
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || box.right <= 0) continue;
    const [clipLeft, clipRight] = clipOf(el.parentElement);
    const left = Math.max(box.left, clipLeft), right = Math.min(box.right, clipRight);
    if (right - left <= 1) continue;
    if (right > width + 0.5) {
      const id = el.id ? "#" + el.id : "";
      const cls = el.classList.length ? "." + [...el.classList].join(".") : "";
      wide.push(`${el.tagName.toLowerCase()}${id}${cls} (right edge ${Math.round(right)})`);
    }
  }
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 6)};
}"""


def overflow(page: Page) -> str | None:
    """None when the page fits its viewport; else what sticks out, by selector."""
    found = page.evaluate(MEASURE)
    if found["scroll"] <= found["width"] and not found["wide"]:
        return None
    return f"scrollWidth {found['scroll']} > innerWidth {found['width']}: {found['wide']}"


@pytest.fixture
def fleet(emulator, users, token_a):
    """A device with the longest name and uid, audit rows about it and a paused sign-in."""
    greenhouse = emulator.device_uid(TOKEN_A, "Greenhouse Sensor")
    emulator.copy_device(TOKEN_A, greenhouse, LONG_UID)
    emulator.set_device(TOKEN_A, LONG_UID, name=LONG_NAME, description=WORDY_NAME * 3)
    emulator.set_device(TOKEN_A, greenhouse, name=WORDY_NAME)
    for action, sent in (
        ("device.rename", {"name": "new-" + LONG_NAME[:200], "from": LONG_NAME}),
        ("device.command", {"payload": {"relay": "on", "note": "y" * 300}}),
    ):
        AuditEvent.objects.create(
            user=users["admin"], username="admin", ip="2001:db8:85a3::8a2e:370:7334",
            token_label="Team A", device_uid=LONG_UID, device_name=LONG_NAME[:100],
            action=action, sent=sent, outcome="rejected", status_code=422,
            message="The name is too long. " * 8,
        )  # fmt: skip
    AccessAttempt.objects.create(
        username="a-very-long-username-tried-by-someone-" + "z" * 60,
        ip_address="2001:db8:85a3::8a2e:370:7334",
        user_agent="test",
        failures_since_start=5,
    )
    return {"uid": LONG_UID, "greenhouse": greenhouse, "token": token_a.pk}


@contextmanager
def phone(browser, width: int, height: int = 800, *, javascript: bool = True) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale="en-GB", java_script_enabled=javascript
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/login/", wait_until="domcontentloaded")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.get_by_role("button", name="Sign in").click()


def tour(page: Page, url: str, emulator, fleet, users) -> Iterator[str]:
    """Shows every page an admin reaches, one after the other in `page`; yields each name
    once the page has drawn what it draws (its panels, its rows)."""
    uid, greenhouse = fleet["uid"], fleet["greenhouse"]

    def go(path: str, ready: Callable[[], None] | None = None) -> None:
        page.goto(f"{url}{path}", wait_until="domcontentloaded")
        if ready:
            ready()

    def rows() -> None:
        expect(page.locator("#device-rows tr").first).to_be_visible()

    def panels() -> None:
        wait_for_panels(page)

    sign_in(page, url, "admin")
    rows()
    yield "device list"
    go("/devices/?q=green&sort=-name", rows)
    yield "device list, searched"
    go("/devices/?q=nothing-matches-this")
    yield "device list, no match"
    go(f"/devices/{uid}/", panels)
    yield "device detail, long name and uid"
    page.locator("#edit-name").click()
    expect(page.get_by_label("Name", exact=True)).to_be_focused()
    yield "device detail, editing the name"
    go(f"/devices/{greenhouse}/", panels)
    yield "device detail, wordy name"
    go(f"/devices/{uid}/firmware/")
    yield "firmware"
    page.locator(".fw-card").get_by_role("link", name="Edit").first.click()
    expect(page.locator(".fw-edit").first).to_be_visible()
    yield "firmware, editing"
    go(f"/devices/{uid}/commands/")
    yield "commands"
    go(f"/devices/{uid}/buttons/")
    yield "command buttons"
    go(f"/devices/{uid}/edit/name/")
    yield "edit the name as a page"
    go("/devices/no-such-device/")
    yield "no such device"
    go("/no/such/page/")
    yield "no such page"
    go("/tokens/")
    yield "tokens"
    go("/tokens/add/")
    yield "add a token"
    go(f"/tokens/{fleet['token']}/")
    yield "token detail"
    go("/users/")
    yield "users"
    go("/users/add/")
    yield "add a user"
    go(f"/users/{users['operator'].pk}/")
    yield "user detail"
    go("/audit/")
    yield "audit log"
    go("/account/activity/")
    yield "my activity"
    go("/account/token/")
    yield "my API token"
    go("/account/password/")
    yield "change password"
    emulator.set_fault("500", path=f"/devices/{uid}$")
    go(f"/devices/{uid}/")
    expect(page.locator("main .alert-error").first).to_be_visible()
    yield "device detail, device service failing"
    emulator.clear_faults()

    # Without JavaScript (the same page, its scripts turned off): the confirmation pages.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        page.goto(f"{url}/devices/{uid}/commands/", wait_until="load")
        with page.expect_navigation(wait_until="load"):
            page.locator("#action-reboot").click()
        expect(page.get_by_role("heading", name="Please confirm")).to_be_visible()
        yield "confirm a reboot, without JavaScript"
        page.goto(f"{url}/devices/{uid}/firmware/", wait_until="load")
        with page.expect_navigation(wait_until="load"):
            page.locator(".fw-card").get_by_role("button", name="Delete").first.click()
        expect(page.get_by_role("heading", name="Please confirm")).to_be_visible()
        yield "confirm deleting a firmware, without JavaScript"
        page.goto(f"{url}/users/", wait_until="load")
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("button", name="Lift the pause").first.click()
        yield "confirm lifting a pause, without JavaScript"
        go(f"/devices/{uid}/edit/description/")
        page.wait_for_load_state("load")
        yield "edit the description, without JavaScript"
    finally:
        cdp.send("Emulation.setScriptExecutionDisabled", {"value": False})
        cdp.detach()

    # Signed out: the sign-in page, and the portal's own page for a form without its cookie.
    page.context.clear_cookies()
    go("/login/?next=/devices/")
    yield "sign-in"
    page.context.clear_cookies()
    page.get_by_label("Username").fill("viewer")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.get_by_role("button", name="Sign in").click()
    expect(page.locator("main")).to_contain_text("could not be sent")
    yield "form sent without its cookie (CSRF)"


PAGES_AT_LEAST = 30  # the tour really went everywhere


@pytest.mark.parametrize("width", [360, 390])
def test_no_page_is_wider_than_a_phone(browser, width, emulator, fleet, users, live_server):
    too_wide: dict[str, str] = {}
    took: dict[str, float] = {}
    with phone(browser, width) as page:
        started = mark = time.monotonic()
        for name in tour(page, live_server.url, emulator, fleet, users):
            if problem := overflow(page):
                too_wide[name] = problem
            took[name], mark = time.monotonic() - mark, time.monotonic()
        total = time.monotonic() - started
    assert len(took) >= PAGES_AT_LEAST, list(took)
    assert not too_wide, "\n".join(f"{name}: {problem}" for name, problem in too_wide.items())
    # One page in one context, waiting only for what each page draws: about 6 s on an idle
    # machine. The bound is loose (a shared CI runner is slower), but not five minutes.
    slowest = sorted(took.items(), key=lambda item: -item[1])[:3]
    assert total < 60, f"the tour took {total:.0f} s; slowest: {slowest}"


def visible_rows(page: Page) -> list[dict]:
    """The device rows wholly inside the viewport, and the cells a reader sees in each."""
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
          return {top: box.top, bottom: box.bottom, name: seen("Name"), uid: seen("UID"),
                  online: seen("Online"), seen: seen("Last seen")};
        }).filter(row => row.top >= 0 && row.bottom <= innerHeight)"""
    )


def test_a_phone_shows_at_least_five_devices_two_lines_each(browser, users, emulator, live_server):
    with phone(browser, PHONE["width"], PHONE["height"]) as page:
        sign_in(page, live_server.url, "operator")
        expect(page.locator("#device-rows tr").first).to_be_visible()
        rows = visible_rows(page)
        assert len(rows) >= 5, rows
        for row in rows:
            assert row["name"] and row["uid"] and row["online"] and row["seen"], row
            assert row["bottom"] - row["top"] < 56, row  # two lines, not a card
        assert rows[0]["name"] == "Aquarium Heater"
        assert overflow(page) is None


DOORS = ["Chicken Coop Door", "Doorbell Camera Bridge", "Garage Door"]  # "door", by name


def names(page: Page):
    return page.locator('#device-rows td[data-label="Name"]')


def test_a_phone_sorts_with_the_sort_by_menu_and_the_sort_stays_in_the_address(
    browser, users, emulator, live_server
):
    with phone(browser, PHONE["width"], PHONE["height"]) as page:
        sign_in(page, live_server.url, "viewer")
        expect(page.locator("#sort-name")).to_be_hidden()  # the headings are not shown here
        sort = page.get_by_label("Sort by")
        expect(sort).to_have_value("name")
        expect(names(page).first).to_have_text("Aquarium Heater")
        sort.focus()  # as a keyboard or a phone's picker leaves it
        sort.select_option(label="Name, Z to A")
        expect(page).to_have_url(re.compile(r"[?&]sort=-name"))
        expect(names(page).first).to_have_text("Workshop Dust Collector")
        expect(page.get_by_label("Sort by")).to_be_focused()  # the menu swapped in keeps focus
        # A search keeps the sort, and a sort keeps the search.
        page.get_by_label("Search name or uid").fill("door")
        expect(page).to_have_url(re.compile(r"q=door"))
        expect(page).to_have_url(re.compile(r"sort=-name"))
        expect(names(page)).to_have_text(DOORS[::-1])
        page.get_by_label("Sort by").select_option(label="Name, A to Z")
        expect(page).to_have_url(re.compile(r"sort=name"))
        expect(names(page)).to_have_text(DOORS)
        page.reload()  # a bookmarked view comes back sorted
        expect(page.get_by_label("Sort by")).to_have_value("name")
        expect(page.get_by_label("Search name or uid")).to_have_value("door")
        # Where the headings show, the menu follows a click on one (it sorts the next search).
        page.set_viewport_size({"width": 1280, "height": 900})
        page.locator("#sort-board").click()
        expect(page).to_have_url(re.compile(r"sort=board"))
        expect(page.locator("#id_sort")).to_have_value("board")
        page.get_by_label("Search name or uid").fill("do")
        expect(page).to_have_url(re.compile(r"q=do&.*sort=board|sort=board.*q=do&?"))


def test_a_phone_sorts_with_the_sort_by_menu_without_javascript(
    browser, users, emulator, live_server
):
    with phone(browser, PHONE["width"], PHONE["height"], javascript=False) as page:
        sign_in(page, live_server.url, "viewer")
        page.get_by_label("Sort by").select_option("-name")
        with page.expect_navigation(wait_until="domcontentloaded"):
            page.get_by_role("button", name="Apply").click()
        expect(page).to_have_url(re.compile(r"[?&]sort=-name"))
        expect(names(page).first).to_have_text("Workshop Dust Collector")
        expect(page.get_by_label("Sort by")).to_have_value("-name")


def test_a_long_name_cut_short_keeps_its_whole_value_in_its_title(
    browser, users, emulator, live_server
):
    emulator.copy_device(TOKEN_A, emulator.device_uid(TOKEN_A, "Garage Door"), LONG_UID)
    emulator.set_device(TOKEN_A, LONG_UID, name=LONG_NAME)
    with phone(browser, PHONE["width"], PHONE["height"]) as page:
        sign_in(page, live_server.url, "operator")
        page.goto(f"{live_server.url}/devices/?q=Greenhouse-north", wait_until="domcontentloaded")
        link = page.get_by_role("link", name=LONG_NAME)  # the whole name, to a screen reader
        expect(link).to_have_attribute("title", LONG_NAME)
        cut = link.evaluate("a => [a.scrollWidth, a.clientWidth, getComputedStyle(a).textOverflow]")
        assert cut[0] > cut[1] and cut[2] == "ellipsis", cut  # cut short, with an ellipsis
        uid = page.locator(f'#device-rows code[title="{LONG_UID}"]')
        expect(uid).to_have_text(LONG_UID)
        assert page.locator("#device-rows tr").first.bounding_box()["height"] < 56
        assert overflow(page) is None


def test_a_phone_with_a_selection_and_tags_still_shows_five_devices_two_lines_each(
    browser, users, emulator, live_server, token_a
):
    from fleet import tags

    heater = emulator.device_uid(TOKEN_A, "Aquarium Heater")
    for name in ("Kitchen and a long tag", "Second floor"):
        tags.apply_add(token_a, heater, name)
    with phone(browser, PHONE["width"], PHONE["height"]) as page:
        sign_in(page, live_server.url, "operator")
        boxes = page.locator("#device-rows input.pick-box")
        boxes.nth(0).check()
        expect(page.locator("#selection-count")).to_contain_text("1 device selected")
        boxes.nth(1).check()
        expect(page.locator("#selection-count")).to_contain_text("2 devices selected")
        rows = visible_rows(page)
        assert len(rows) >= 5, rows
        for row in rows:
            assert row["name"] and row["uid"] and row["online"] and row["seen"], row
            assert row["bottom"] - row["top"] < 56, row
        # The bar is one line: the count and the "Actions" disclosure, closed.
        summary = page.locator("#selection-actions > summary")
        count_box, summary_box = (
            page.locator("#selection-count").bounding_box(),
            summary.bounding_box(),
        )
        assert abs(count_box["y"] - summary_box["y"]) < 8, (count_box, summary_box)
        field = page.get_by_label("Tag for the selected devices")
        expect(field).to_be_hidden()
        summary.focus()
        page.keyboard.press("Enter")  # opens by keyboard
        expect(field).to_be_visible()
        boxes.nth(2).check()  # the table and its bar are redrawn: the disclosure stays open
        expect(page.locator("#selection-count")).to_contain_text("3 devices selected")
        expect(page.get_by_label("Tag for the selected devices")).to_be_visible()
        # The tags, cut short on the second line, keep their whole value in the title.
        cell = page.locator("#device-rows tr").first.locator('td[data-label="Tags"]')
        expect(cell).to_have_attribute("title", "Kitchen and a long tag, Second floor")
        cut = cell.evaluate(
            "td => [td.scrollWidth, td.clientWidth, getComputedStyle(td).textOverflow]"
        )
        assert cut[0] > cut[1] and cut[2] == "ellipsis", cut
        assert overflow(page) is None
