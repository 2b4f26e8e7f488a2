"""Every page of the portal, visited in a real browser: none is wider than a phone (360 and
390 px), and axe-core finds no serious or critical violation on any (desktop and 375 px).

One tour visits them all, with the data that makes pages wide: a device with a 255-character
name and a 100-character uid, audit rows about it, a paused sign-in, the error pages. A page
that cannot be reached with JavaScript on (the confirmation pages, the edit forms as pages)
is visited with it off, as someone without JavaScript gets them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.utils import timezone
from playwright.sync_api import Page, expect

from emulator.pytest_plugin import TOKEN_A
from portal.models import AuditEvent
from tests.browser.test_device_quality import serious_violations, wait_for_panels
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Long values with no space to break at: the worst case for a narrow screen.
LONG_UID = "esp32_" + "a1b2c3d4e5" * 9 + "f6g7"  # 100 characters, the most a uid may have
LONG_NAME = "Greenhouse-north-" + "x" * 238  # 255 characters, the most a name may have
WORDY_NAME = "Greenhouse north bench irrigation controller (second floor, by the east door)"

# Everything wider than the viewport, or reaching past its right edge: the page's own scroll
# width, then each element's box, cut to what its ancestors that hide overflow let show (a
# table in a scrolling box still counts: that box scrolls sideways). An element entirely
# left of the screen (the skip link, waiting for focus) is hidden on purpose.
MEASURE = """() => {
  const width = window.innerWidth;
  const wide = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || box.right <= 0) continue;
    let left = box.left, right = box.right;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (["hidden", "clip"].includes(style.overflowX) || style.clip !== "auto") {
        const outer = up.getBoundingClientRect();
        left = Math.max(left, outer.left);
        right = Math.min(right, outer.right);
      }
    }
    if (right - left <= 1) continue;
    if (right > width + 0.5 || right - left > width + 0.5) {
      const id = el.id ? "#" + el.id : "";
      const cls = el.classList.length ? "." + [...el.classList].join(".") : "";
      const where = `${Math.round(left)}..${Math.round(right)}`;
      wide.push(`${el.tagName.toLowerCase()}${id}${cls}: ${where}`);
    }
  }
  return {scroll: document.scrollingElement.scrollWidth, width, wide: wide.slice(0, 8)};
}"""


def overflow(page: Page) -> str | None:
    """None when the page fits its viewport; else what sticks out."""
    found = page.evaluate(MEASURE)
    if found["scroll"] <= found["width"] and not found["wide"]:
        return None
    return f"scrollWidth {found['scroll']} > {found['width']}: {found['wide']}"


@pytest.fixture
def fleet(emulator, users):
    """The long device, audit rows about it, a paused sign-in and a user to show."""
    greenhouse = emulator.device_uid(TOKEN_A, "Greenhouse Sensor")
    emulator.copy_device(TOKEN_A, greenhouse, LONG_UID)
    emulator.set_device(TOKEN_A, LONG_UID, name=LONG_NAME, description=WORDY_NAME * 3)
    emulator.set_device(TOKEN_A, greenhouse, name=WORDY_NAME)
    admin = users["admin"]
    for action, sent in (
        ("device.rename", {"name": "new-" + LONG_NAME[:200], "from": LONG_NAME}),
        ("device.command", {"payload": {"relay": "on", "note": "y" * 300}}),
        ("device.reboot", {}),
    ):
        AuditEvent.objects.create(
            user=admin, username="admin", ip="2001:db8:85a3::8a2e:370:7334", token_label="Team A",
            device_uid=LONG_UID, device_name=LONG_NAME[:100], action=action, sent=sent,
            outcome="rejected", status_code=422, message="The name is too long. " * 8,
        )  # fmt: skip
    AccessAttempt.objects.create(
        username="a-very-long-username-tried-by-someone-" + "z" * 60,
        ip_address="2001:db8:85a3::8a2e:370:7334",
        user_agent="test",
        failures_since_start=5,
        attempt_time=timezone.now(),
    )
    return {"uid": LONG_UID, "greenhouse": greenhouse}


Stop = tuple[str, Callable[[], None]]


def sign_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Sign in").click()


@contextmanager
def context_of(browser, width: int, *, javascript: bool = True) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": width, "height": 800}, locale="en-GB", java_script_enabled=javascript
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def tour(browser, width: int, url: str, emulator, fleet, settings) -> Iterator[tuple[str, Page]]:
    """Yields (page name, the page showing it, loaded), for every page of the portal."""
    for name, page in _stops(browser, width, url, emulator, fleet, settings):
        page.wait_for_load_state("load")
        yield name, page


def _stops(browser, width: int, url: str, emulator, fleet, settings) -> Iterator[tuple[str, Page]]:
    uid, greenhouse = fleet["uid"], fleet["greenhouse"]
    settings.PORTAL_ALLOW_SELF_TOKEN = True

    # Signed out: the sign-in page, the portal's CSRF failure page, a paused sign-in.
    with context_of(browser, width) as page:
        page.goto(f"{url}/login/?next=/devices/")
        yield "sign-in", page
        page.context.clear_cookies()
        page.get_by_label("Username").fill("viewer")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("main")).to_contain_text("could not be sent")
        yield "CSRF failure", page
        AccessAttempt.objects.create(
            username="viewer", ip_address="127.0.0.1", user_agent="", failures_since_start=5
        )
        sign_in(page, url, "viewer")
        yield "sign-in paused", page
        AccessAttempt.objects.filter(username="viewer").delete()

    # No role; a viewer refused a team page.
    with context_of(browser, width) as page:
        sign_in(page, url, "nobody")
        yield "no role", page
    with context_of(browser, width) as page:
        sign_in(page, url, "viewer")
        page.goto(f"{url}/users/")
        yield "not allowed", page

    # An admin sees every page.
    with context_of(browser, width) as page:
        sign_in(page, url, "admin")
        expect(page.locator("#device-rows tr").first).to_be_visible()
        yield "device list", page
        page.goto(f"{url}/devices/?sort=-name&q=green")
        expect(page.locator("#device-rows tr")).to_have_count(2)
        yield "device list, searched", page
        page.goto(f"{url}/devices/?q=nothing-matches-this")
        yield "device list, no match", page
        page.goto(f"{url}/devices/{uid}/")
        wait_for_panels(page)
        yield "device detail", page
        page.locator("#edit-name").click()
        expect(page.get_by_label("Name", exact=True)).to_be_focused()
        yield "device detail, editing the name", page
        page.goto(f"{url}/devices/{uid}/firmware/")
        yield "firmware panel", page
        page.locator(".fw-card").get_by_role("link", name="Edit").first.click()
        expect(page.locator(".fw-edit").first).to_be_visible()
        yield "firmware panel, editing", page
        page.goto(f"{url}/devices/{uid}/commands/")
        yield "commands page", page
        page.goto(f"{url}/devices/{uid}/buttons/")
        yield "command buttons page", page
        page.goto(f"{url}/devices/{greenhouse}/")
        wait_for_panels(page)
        yield "device detail, wordy name", page
        page.goto(f"{url}/devices/no-such-device/")
        yield "no such device", page
        page.goto(f"{url}/no/such/page/")
        yield "no such page", page
        page.goto(f"{url}/tokens/")
        yield "tokens", page
        page.goto(f"{url}/tokens/add/")
        yield "add a token", page
        page.goto(f"{url}/tokens/")
        page.get_by_role("link", name="Team A", exact=True).click()
        yield "token detail", page
        page.goto(f"{url}/users/")
        yield "users", page
        page.goto(f"{url}/users/add/")
        yield "add a user", page
        page.goto(f"{url}/users/")
        page.get_by_role("link", name="operator").click()
        yield "user detail", page
        page.goto(f"{url}/audit/")
        yield "audit log", page
        page.goto(f"{url}/audit/?device=nothing-matches")
        yield "audit log, no match", page
        page.goto(f"{url}/account/activity/")
        yield "my activity", page
        page.goto(f"{url}/account/token/")
        yield "my API token", page
        page.goto(f"{url}/account/password/")
        yield "change password", page
        emulator.set_fault("500", path=f"/devices/{uid}$")
        page.goto(f"{url}/devices/{uid}/edit/name/")
        yield "device service failing", page
        page.goto(f"{url}/devices/")
        emulator.set_fault("500", path="/devices$")
        page.goto(f"{url}/devices/")
        yield "device list failing", page
        emulator.clear_faults()
        # A form sent in another encoding than UTF-8: the portal's own 400 page.
        page.goto(f"{url}/account/password/")
        page.route(
            "**/account/password/",
            lambda route: route.continue_(
                headers={
                    **route.request.headers,
                    "content-type": "application/x-www-form-urlencoded; charset=latin-1",
                }
            ),
        )
        page.locator("main").get_by_role("button", name="Change password").click()
        expect(page.locator("main")).to_contain_text("UTF-8")
        yield "bad encoding", page

    # Without JavaScript: the edit forms as pages and the confirmation pages.
    with context_of(browser, width, javascript=False) as page:
        sign_in(page, url, "admin")
        page.goto(f"{url}/devices/{uid}/edit/name/")
        yield "edit the name", page
        page.goto(f"{url}/devices/{uid}/edit/description/")
        yield "edit the description", page
        page.goto(f"{url}/devices/{uid}/commands/")
        page.locator("#action-reboot").click()
        yield "confirm a reboot", page
        page.goto(f"{url}/devices/{uid}/buttons/")
        page.get_by_role("button", name="Delete").first.click()
        yield "confirm deleting a button", page
        page.goto(f"{url}/devices/{uid}/firmware/")
        page.locator(".fw-card").get_by_role("button", name="Delete").first.click()
        yield "confirm deleting a firmware", page
        page.goto(f"{url}/users/")
        page.get_by_role("button", name="Lift the pause").first.click()
        yield "confirm lifting a pause", page
        page.goto(f"{url}/users/")
        page.get_by_role("link", name="operator").click()
        page.get_by_role("button", name="Deactivate").click()
        yield "confirm deactivating", page


PAGES_AT_LEAST = 38  # the tour really went everywhere
# PORTAL_TOUR_SHOTS=dir saves a screenshot of every page of the tour, to look at them.
SHOTS = Path(os.environ["PORTAL_TOUR_SHOTS"]) if os.environ.get("PORTAL_TOUR_SHOTS") else None


def save_shots(page: Page, stem: Path) -> None:
    """The whole page, in pieces of 1,000 px that stay readable."""
    stem.parent.mkdir(exist_ok=True)
    height = page.evaluate("document.scrollingElement.scrollHeight")
    width = page.viewport_size["width"]
    for n, top in enumerate(range(0, height, 1000)):
        clip = {"x": 0, "y": top, "width": width, "height": min(1000, height - top)}
        page.screenshot(path=f"{stem}-{n}.png", full_page=True, clip=clip)


@pytest.mark.parametrize("width", [360, 390])
def test_no_page_is_wider_than_a_phone(browser, width, emulator, fleet, live_server, settings):
    too_wide: dict[str, str] = {}
    visited = 0
    for name, page in tour(browser, width, live_server.url, emulator, fleet, settings):
        visited += 1
        if SHOTS:
            save_shots(page, SHOTS / f"{width}-{visited:02}-{name}")
        if problem := overflow(page):
            too_wide[name] = problem
    assert visited >= PAGES_AT_LEAST
    assert not too_wide, "\n".join(f"{name}: {problem}" for name, problem in too_wide.items())


@pytest.mark.parametrize("width", [1280, 375])
def test_no_page_has_serious_accessibility_violations(
    browser, width, emulator, fleet, live_server, settings
):
    found: dict[str, list[str]] = {}
    visited = 0
    for name, page in tour(browser, width, live_server.url, emulator, fleet, settings):
        visited += 1
        if violations := serious_violations(page):
            found[name] = violations
    assert visited >= PAGES_AT_LEAST
    assert not found, "\n".join(f"{name}: {v}" for name, v in found.items())
