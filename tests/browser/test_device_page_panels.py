"""A device page shows its panels with the page, with or without JavaScript; a slow one follows."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from emulator.pytest_plugin import TOKEN_A
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def no_js_page(browser):
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def _sign_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def test_every_panel_is_on_the_page_without_javascript(no_js_page, users, emulator, live_server):
    page = no_js_page
    _sign_in(page, live_server, "maintainer")
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    page.goto(f"{live_server.url}/devices/{uid}/")
    expect(page.locator("#commands-panel")).to_contain_text("Custom command")
    expect(page.locator("#buttons-panel")).to_contain_text("Command buttons")
    expect(page.locator("#firmware-panel #fw-device")).to_be_visible()
    expect(page.locator(".panel-placeholder")).to_have_count(0)
    # A panel's form works as a plain post.
    page.locator("#id_payload").fill('{"relay": "on"}')
    with page.expect_navigation():
        page.get_by_role("button", name="Send command").click()
    received = emulator.state.received_commands(TOKEN_A, uid)
    assert received and received[-1]["type"] == "command"


def test_without_javascript_a_slow_panel_is_a_link_to_itself(
    no_js_page, users, emulator, live_server, settings
):
    settings.PORTAL_PANEL_WAIT_SECONDS = 0.1
    page = no_js_page
    _sign_in(page, live_server, "viewer")
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    emulator.set_fault("hang", path="/firmwares$", count=1, hang_seconds=3)
    page.goto(f"{live_server.url}/devices/{uid}/")
    placeholder = re.compile(r"\bpanel-placeholder\b")
    expect(page.locator("#commands-panel")).not_to_have_class(placeholder)
    expect(page.locator("#firmware-panel")).to_have_class(placeholder)
    emulator.clear_faults()
    page.get_by_role("link", name="Open the firmware").click()
    expect(page.locator("#firmware-panel #fw-device")).to_be_visible()


def test_a_slow_panel_loads_on_its_own_after_the_page(
    sign_in, users, emulator, live_server, settings
):
    settings.PORTAL_PANEL_WAIT_SECONDS = 0.1
    page = sign_in("viewer")
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    emulator.set_fault("hang", path="/firmwares$", count=1, hang_seconds=0.8)
    page.goto(f"{live_server.url}/devices/{uid}/")
    expect(page.locator("#device-live")).to_contain_text("Online")
    expect(page.locator("#buttons-panel")).to_contain_text("Command buttons")
    # Its own request (after the page, through htmx) reads again and draws it.
    expect(page.locator("#firmware-panel #fw-device")).to_be_visible()
    expect(page.locator(".panel-placeholder")).to_have_count(0)
    assert page.csp_violations == []
