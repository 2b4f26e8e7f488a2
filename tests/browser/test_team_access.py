"""Users, paused sign-ins, passwords, error pages and token wording in a real browser, on a
desktop and at 375 px, with axe-core over every new page."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from emulator.pytest_plugin import TOKEN_A
from portal import services
from portal.models import ApiToken
from tests.browser.test_device_quality import fits, serious_violations
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [1280, 375]
NEW = "a-brand-new-passphrase-9"


@pytest.fixture(params=WIDTHS, ids=lambda w: f"{w}px")
def width(request, page):
    page.set_viewport_size({"width": request.param, "height": 900})
    return request.param


def test_creating_a_user_needs_a_role_and_warns_without_a_token(
    sign_in, users, emulator, live_server, width
):
    page = sign_in("admin")
    page.goto(f"{live_server.url}/users/add/")
    warning = page.locator("#no-token-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Without an API token this user sees no devices")
    assert serious_violations(page) == [] and fits(page)
    page.get_by_label("API token").select_option(label="Team A (…0001)")
    expect(warning).to_be_hidden()
    page.get_by_label("API token").select_option(label="No token")
    expect(warning).to_be_visible()
    page.get_by_label("Username").fill("dana")
    page.locator("#id_password1").fill(NEW)
    page.locator("#id_password2").fill(NEW)
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_text("Choose a role: a user without one can open no page.")).to_be_visible()
    page.get_by_label("Role").select_option("viewer")
    page.locator("#id_password1").fill(NEW)
    page.locator("#id_password2").fill(NEW)
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("heading", name="dana")).to_be_visible()
    expect(page.locator(".flash")).to_contain_text("Created dana. Without an API token")
    page.get_by_role("link", name="← Users").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="dana"))
    expect(row).to_contain_text("No token")
    assert serious_violations(page) == [] and fits(page)
    assert page.csp_violations == []


def test_a_user_with_no_role_sees_one_page_and_can_sign_out(sign_in, users, live_server, width):
    page = sign_in("nobody")
    expect(page.get_by_role("heading", name="No role yet")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Your account has no role yet: ask an admin")
    expect(page.get_by_role("link", name="Devices")).to_have_count(0)
    assert serious_violations(page) == [] and fits(page)
    page.get_by_role("main").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def lock_out(username: str, ip: str = "203.0.113.5") -> None:
    client = Client(REMOTE_ADDR=ip)
    for _ in range(5):
        client.post("/login/", {"username": username, "password": "not-the-password-1"})


def test_an_admin_sees_a_paused_sign_in_and_lifts_it_after_the_dialog(
    sign_in, users, live_server, width
):
    lock_out("operator")
    page = sign_in("admin")
    page.goto(f"{live_server.url}/users/")
    section = page.locator("section.lockouts")
    row = section.get_by_role("row").filter(has_text="operator")
    expect(row).to_contain_text("203.0.113.5")
    expect(row.locator("time").first).to_have_attribute("title", re.compile(r"\d{4}-\d\d-\d\d"))
    expect(section).to_contain_text("starts the 15 minutes again")
    assert serious_violations(page) == [] and fits(page)
    row.get_by_role("button", name=re.compile("Lift the pause")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Lift the sign-in pause for “operator” from 203.0.113.5?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(row).to_be_visible()
    row.get_by_role("button", name=re.compile("Lift the pause")).click()
    page.get_by_role("dialog").get_by_role("button", name="Lift the pause").click()
    expect(
        page.get_by_text("Lifted the sign-in pause for “operator” from 203.0.113.5.")
    ).to_be_visible()
    expect(page.get_by_text("No sign-in is paused now.")).to_be_visible()
    assert page.csp_violations == []


def test_the_lockout_page_says_how_long_the_pause_lasts(sign_in, users, live_server, width):
    for _ in range(5):
        page = sign_in("maintainer", "not-the-password-1")
    expect(page.get_by_role("alert")).to_contain_text("Sign-in is paused for 15 minutes")
    expect(page.get_by_role("alert")).to_contain_text("Every attempt during the pause starts")
    assert serious_violations(page) == [] and fits(page)


def test_a_user_changes_their_password_from_the_user_area(
    sign_in, users, emulator, live_server, width
):
    page = sign_in("viewer")
    page.get_by_role("link", name="Change password").click()
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    assert serious_violations(page) == [] and fits(page)
    page.get_by_label("Old password").fill(PASSWORD)
    page.locator("#id_new_password1").fill(NEW)
    page.locator("#id_new_password2").fill(NEW)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password is changed.")).to_be_visible()
    expect(page.get_by_role("heading", name="Devices")).to_be_visible()


def test_a_required_change_comes_first_then_the_user_goes_on(
    sign_in, users, emulator, live_server, width
):
    services.require_password_change(users["operator"], True)
    page = sign_in("operator")
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("An admin asked you to choose a new password")
    page.goto(f"{live_server.url}/devices/")
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    page.get_by_label("Old password").fill(PASSWORD)
    page.locator("#id_new_password1").fill(NEW)
    page.locator("#id_new_password2").fill(NEW)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Devices")).to_be_visible()
    expect(page.locator("#device-rows tr").first).to_be_visible()


def test_an_admin_requires_a_change_on_the_users_page(sign_in, users, live_server, width):
    page = sign_in("admin")
    page.goto(f"{live_server.url}/users/{users['viewer'].pk}/")
    page.get_by_role("button", name="Require a change at next sign-in").click()
    expect(
        page.get_by_text("viewer must choose a new password before anything else.")
    ).to_be_visible()
    expect(page.get_by_text("Must change at next sign-in")).to_be_visible()
    assert serious_violations(page) == [] and fits(page)


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "no-debug"])
def test_no_such_page_and_no_such_device_are_the_portals_own(
    sign_in, users, emulator, live_server, settings, debug, width
):
    settings.DEBUG = debug
    page = sign_in("viewer")
    page.goto(f"{live_server.url}/devices/espressif32_nosuchdevice/")
    expect(page.get_by_role("heading", name="No such device")).to_be_visible()
    assert "URL patterns" not in page.content()
    assert serious_violations(page) == [] and fits(page)
    response = page.goto(f"{live_server.url}/nothing/here/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="No such page")).to_be_visible()
    page.get_by_role("link", name="Back to the devices").click()
    expect(page.get_by_role("heading", name="Devices")).to_be_visible()


def test_a_form_sent_after_the_cookies_were_cleared_gets_a_way_back(
    sign_in, users, emulator, live_server, page, width
):
    sign_in("admin")
    page.goto(f"{live_server.url}/users/{users['viewer'].pk}/")
    page.context.clear_cookies()
    page.get_by_role("button", name="Save role and token").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The form could not be sent: your session or this page expired.")
    expect(alert).to_contain_text("Nothing was done.")
    assert serious_violations(page) == [] and fits(page)
    page.get_by_role("link", name="Reload the page").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # signed out: sign in


def test_the_portal_has_a_favicon(sign_in, users, emulator, live_server, page):
    sign_in("viewer")
    href = page.locator('link[rel="icon"]').get_attribute("href")
    icon = page.request.get(f"{live_server.url}{href}")
    assert icon.ok and icon.headers["content-type"].startswith("image/svg")
    assert page.csp_violations == []


def test_token_pages_say_checked_with_when_and_what_to_do_when_rejected(
    sign_in, users, token_a, emulator, live_server, width
):
    services.verify_token(token_a)
    services.add_token("Old", "revoked-value-9z9z", users["admin"])
    page = sign_in("admin")
    page.goto(f"{live_server.url}/tokens/")
    good = page.get_by_role("row").filter(has_text="Team A")
    expect(good).to_contain_text("Checked")
    expect(good.locator("time[title]").last).to_have_attribute(
        "title", re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
    )
    bad = page.get_by_role("row").filter(has_text="Old")
    expect(bad).to_contain_text("replace the value, or check it with the vendor")
    assert serious_violations(page) == [] and fits(page)
    ApiToken.objects.filter(pk=token_a.pk).update(
        ciphertext=ApiToken.objects.get(label="Old").ciphertext
    )
    page.goto(f"{live_server.url}/devices/")
    page.get_by_role("link", name="replace its value, or check it with the vendor").click()
    expect(page.get_by_role("heading", name="Team A")).to_be_visible()
    assert TOKEN_A not in page.content()
