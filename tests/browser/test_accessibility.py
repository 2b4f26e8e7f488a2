"""axe-core over every page and every state a page can be left in, on a desktop and at
375 px: no serious or critical violation anywhere.

One browser context per width tours the portal (sign-in, devices, the team pages, the audit
log, the error pages, the ended-session banner and the sign-in-again dialog, the no-role
page, the lockout page) and collects what axe says about each, so one run names every page
that fails. axe-core comes bundled in the pinned PyPI package axe-playwright-python.
"""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from emulator.pytest_plugin import TOKEN_A
from tests.browser.test_device_quality import serious_violations, wait_for_panels
from tests.browser.test_team_access import lock_out
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Sign in").click()


def sign_out(page) -> None:
    with page.expect_navigation(wait_until="load"):
        page.locator("header .account").get_by_role("button", name="Sign out").click()


@pytest.mark.parametrize("width", [1280, 375], ids=lambda w: f"{w}px")
def test_no_page_or_state_has_a_serious_accessibility_violation(
    browser, users, token_a, emulator, live_server, settings, width
):
    settings.PORTAL_ALLOW_SELF_TOKEN = True
    base = live_server.url
    lock_out("operator")  # a paused sign-in for the Users page
    found: dict[str, list[str]] = {}

    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()

    def check(name: str) -> None:
        violations = serious_violations(page)
        if violations:
            found[name] = violations

    def visit(name: str, path: str, heading: str) -> None:
        page.goto(base + path)
        expect(page.locator("h1")).to_contain_text(heading)
        check(name)

    try:
        visit("sign-in", "/login/", "Sign in")
        visit("sign-in after an ended session", "/login/?reason=ended&unsent=1", "Sign in")
        sign_in(page, base, "admin")
        uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
        expect(page.locator("#device-rows tr").first).to_be_visible()
        check("device list")
        page.goto(f"{base}/devices/{uid}/")
        wait_for_panels(page)
        check("device detail")
        page.locator("#edit-name").click()
        expect(page.get_by_label("Name", exact=True)).to_be_focused()
        check("device detail, name editor open")
        page.locator("#action-reboot").click()
        expect(page.locator("#confirm-dialog")).to_be_visible()
        check("confirm dialog")
        page.locator("#confirm-dialog").get_by_role("button", name="Cancel").click()
        visit("commands page", f"/devices/{uid}/commands/", "Commands for")
        visit("firmware page", f"/devices/{uid}/firmware/", "Firmware for")
        visit("no such device", "/devices/espressif32_nosuchdevice/", "No such device")
        visit("no such page", "/nothing/here/", "No such page")

        visit("users", "/users/", "Users")
        expect(page.locator("section.lockouts").get_by_role("row")).not_to_have_count(0)
        visit("new user form", "/users/add/", "Add a user")
        visit("user", f"/users/{users['viewer'].pk}/", "viewer")
        visit("tokens", "/tokens/", "API tokens")
        visit("new token form", "/tokens/add/", "Add an API token")
        visit("token", f"/tokens/{token_a.pk}/", token_a.label)
        visit("my token", "/account/token/", "My API token")
        visit("password change", "/account/password/", "Change your password")
        visit("my activity", "/account/activity/", "My activity")
        visit("audit log", "/audit/", "Audit log")

        # A plain form sent without its CSRF cookie: the portal's own failure page.
        page.goto(f"{base}/users/{users['viewer'].pk}/")
        context.clear_cookies(name="csrftoken")
        page.get_by_role("button", name="Save role and token").click()
        expect(page.get_by_role("alert")).to_contain_text("The form could not be sent")
        check("CSRF failure page")

        # An htmx write with a stale security check, then with the session ended.
        page.goto(f"{base}/devices/{uid}/")
        wait_for_panels(page)
        banner = page.locator("#session-banner")
        context.clear_cookies(name="csrftoken")
        page.locator("#action-reboot").click()
        page.locator("#confirm-dialog").get_by_role("button", name="Reboot").click()
        expect(banner).to_contain_text("This page's security check had expired.")
        check("stale security check banner")
        banner.get_by_role("button", name="Dismiss").click()
        Session.objects.all().delete()
        page.locator("#action-reboot").click()
        page.locator("#confirm-dialog").get_by_role("button", name="Reboot").click()
        expect(banner).to_contain_text("Your session has ended.")
        check("ended-session banner")
        banner.get_by_role("button", name="sign in here").click()
        dialog = page.locator("#sign-in-dialog")
        expect(dialog).to_be_visible()
        check("sign-in-again dialog")
        dialog.get_by_label("Password").fill("wrong")
        dialog.get_by_label("Username").fill("admin")
        dialog.get_by_role("button", name="Sign in").click()
        expect(dialog.locator("#sign-in-dialog-error")).to_be_visible()
        check("sign-in-again dialog, refused")
        dialog.get_by_label("Password").fill(PASSWORD)
        dialog.get_by_role("button", name="Sign in").click()
        expect(banner).to_contain_text("You are signed in again.")
        check("signed in again banner")

        sign_out(page)
        sign_in(page, base, "nobody")
        expect(page.get_by_role("heading", name="No role yet")).to_be_visible()
        check("no role page")
        sign_out(page)
        for _ in range(5):
            sign_in(page, base, "maintainer", "not-the-password-1")
        expect(page.get_by_role("alert")).to_contain_text("Sign-in is paused")
        check("lockout page")
    finally:
        context.close()
    assert found == {}
