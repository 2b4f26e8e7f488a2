"""Signing in through a real browser and seeing the fleet."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_viewer_signs_in_and_sees_the_fleet_table(sign_in, users, emulator, live_server):
    page = sign_in("viewer")
    expect(page.get_by_role("heading", name="Devices")).to_be_visible()
    table = page.get_by_role("table")
    expect(table).to_be_visible()
    assert table.get_by_role("row").count() >= 13  # header + at least 12 demo devices
    expect(page.get_by_text("espressif8266_").first).to_be_visible()
    assert page.csp_violations == []


def test_a_wrong_password_is_refused_without_saying_which_part(sign_in, users, live_server):
    page = sign_in("viewer", "wrong-password")
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username")
    sign_in("nosuchuser", "wrong-password")
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username")
