"""The team pages in a real browser: the vault's password field and the delete dialog."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from emulator.pytest_plugin import TOKEN_B
from portal.models import ApiToken

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_adds_a_token_and_deletes_it_after_the_dialog(
    sign_in, users, emulator, live_server
):
    page = sign_in("admin")
    page.get_by_role("link", name="Tokens").click()
    page.get_by_role("link", name="Add a token").click()
    page.get_by_label("Label").fill("Browser token")
    value = page.get_by_label("Token value")
    expect(value).to_have_attribute("type", "password")
    value.fill(TOKEN_B)
    page.get_by_role("button", name="Save and check").click()
    expect(page.get_by_role("heading", name="Browser token")).to_be_visible()
    expect(page.get_by_text("the device service accepted it")).to_be_visible()
    assert TOKEN_B not in page.content()

    page.get_by_role("button", name="Delete token").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete the token “Browser token”?")
    dialog.get_by_role("button", name="Cancel").click()
    assert ApiToken.objects.filter(label="Browser token").exists()
    page.get_by_role("button", name="Delete token").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    expect(page.get_by_text("Deleted the token “Browser token”.")).to_be_visible()
    assert not ApiToken.objects.filter(label="Browser token").exists()
    assert page.csp_violations == []


def test_the_audit_log_filters_in_place_and_fits_a_phone(sign_in, users, live_server):
    page = sign_in("admin")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server.url}/audit/")
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    page.get_by_label("Action").select_option("auth.sign_in")
    expect(page).to_have_url(re.compile(r"/audit/\?.*action=auth\.sign_in"))
    expect(page.locator("#audit-table")).to_contain_text("Signed in")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    assert page.csp_violations == []
