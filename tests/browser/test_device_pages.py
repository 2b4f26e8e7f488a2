"""The device pages in a real browser: the flows staff use every day."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from emulator.pytest_plugin import TOKEN_A

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_device(page, live_server, emulator, name: str):
    uid = emulator.device_uid(TOKEN_A, name)
    page.goto(f"{live_server.url}/devices/{uid}/")
    expect(page.locator("#device-title")).to_have_text(name)
    return uid


def test_search_and_filter_keep_the_address_bar_and_the_sort(sign_in, users, emulator, live_server):
    page = sign_in("viewer")
    page.get_by_role("link", name="Last seen").click()  # sort by a heading, through htmx
    expect(page).to_have_url(re.compile(r"sort=last_seen"))
    page.get_by_label("Search name or uid").fill("relay")
    expect(page).to_have_url(re.compile(r"q=relay"))
    expect(page).to_have_url(re.compile(r"sort=last_seen"))  # the sort was not lost
    rows = page.locator("#device-rows tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Kitchen Relay")
    page.get_by_label("Search name or uid").fill("")
    page.get_by_label("Online").select_option("no")
    expect(page).to_have_url(re.compile(r"online=no"))
    # Not seen in the last 5 minutes: the offline and pending devices (the reconnecting one was
    # seen 40 s ago: the list can only tell freshness, not the status word's meaning).
    expect(page.locator("#device-rows tr")).to_have_count(6)
    page.reload()  # a bookmarked view comes back as it was
    expect(page.get_by_label("Online")).to_have_value("no")
    expect(page.locator("#device-rows tr")).to_have_count(6)
    assert page.csp_violations == []


def test_the_refresh_keeps_a_half_typed_search_and_its_focus(
    sign_in, users, emulator, live_server, settings
):
    settings.PORTAL_REFRESH_SECONDS = 1
    page = sign_in("viewer")
    refreshes = []
    page.on(
        "request",
        lambda r: refreshes.append(r.url) if r.headers.get("hx-target") == "device-rows" else None,
    )
    search = page.get_by_label("Search name or uid")
    search.focus()
    page.keyboard.type("garag", delay=40)
    page.wait_for_timeout(2500)  # the rows refresh twice or more meanwhile
    assert any("q=garag" in url for url in refreshes)
    expect(search).to_have_value("garag")
    expect(search).to_be_focused()
    expect(page.locator("#device-rows tr")).to_have_count(1)


def test_an_operator_renames_in_place_with_enter_and_cancels_with_escape(
    sign_in, users, emulator, live_server
):
    page = sign_in("operator")
    uid = open_device(page, live_server, emulator, "Kitchen Relay")
    page.locator("#edit-name").click()
    field = page.get_by_label("Name", exact=True)
    expect(field).to_be_focused()
    field.fill("Pantry Relay")
    field.press("Enter")
    expect(page.locator("#field-name")).to_contain_text("Kitchen Relay renamed to Pantry Relay.")
    expect(page.locator("#device-title")).to_have_text("Pantry Relay")
    expect(page.locator("#edit-name")).to_be_focused()
    assert emulator.state.device_detail(TOKEN_A, uid)["name"] == "Pantry Relay"

    page.locator("#edit-description").focus()
    page.keyboard.press("Enter")  # Enter opens the editor too
    description = page.get_by_label("Description", exact=True)
    expect(description).to_be_focused()
    description.fill("Something I do not want")
    description.press("Escape")
    expect(page.locator("#edit-description")).to_be_focused()
    expect(page.locator("#field-description")).not_to_contain_text("Something I do not want")
    assert emulator.state.device_detail(TOKEN_A, uid)["description"] != "Something I do not want"

    page.locator("#edit-name").click()
    page.get_by_label("Name", exact=True).fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#id_name_error")).to_have_text(re.compile("The name field is required."))
    assert page.csp_violations == []


def test_a_reboot_asks_first_and_shows_the_answer(sign_in, users, emulator, live_server):
    page = sign_in("operator")
    uid = open_device(page, live_server, emulator, "Kitchen Relay")
    page.locator("#action-reboot").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Reboot “Kitchen Relay”?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert emulator.state.received_commands(TOKEN_A, uid) == []
    page.locator("#action-reboot").click()
    dialog.get_by_role("button", name="Reboot").click()
    expect(page.locator("#commands-result")).to_have_text(
        "Reboot sent to Kitchen Relay: Reboot command sent."
    )
    assert emulator.state.received_commands(TOKEN_A, uid)[-1]["type"] == "reboot"


def test_a_custom_command_with_invalid_json_then_valid(sign_in, users, emulator, live_server):
    page = sign_in("operator")
    uid = open_device(page, live_server, emulator, "Kitchen Relay")
    payload = page.get_by_label("Payload (JSON object)").first
    payload.fill('{\n  "relay": "on",\n}')
    # Checked as typed, with the place and the same sentence as the server's.
    expect(page.locator("#id_payload_hint")).to_have_text(
        'Line 2, column 16: There is a comma too many before the closing "}".'
    )
    page.get_by_role("button", name="Send command").click()
    expect(page.locator("#id_payload_error")).to_contain_text("Line 2, column 16")
    payload = page.get_by_label("Payload (JSON object)").first
    payload.fill('{"relay": "on"}')
    page.get_by_role("button", name="Send command").click()
    expect(page.locator("#commands-result")).to_have_text(
        'Command {"relay": "on"} sent to Kitchen Relay: Command sent.'
    )
    assert emulator.state.received_commands(TOKEN_A, uid)[-1]["payload"] == {"relay": "on"}


def test_a_command_to_an_offline_device_shows_the_upstreams_message(
    sign_in, users, emulator, live_server
):
    page = sign_in("operator")
    open_device(page, live_server, emulator, "Front Porch Light")
    page.get_by_label("Payload (JSON object)").first.fill('{"light": "on"}')
    page.get_by_role("button", name="Send command").click()
    expect(page.locator("#commands-result .alert-warning")).to_have_text(
        'Command {"light": "on"} not sent to Front Porch Light: Device is offline.'
    )


def test_a_maintainer_creates_sends_and_deletes_a_button(sign_in, users, emulator, live_server):
    page = sign_in("maintainer")
    uid = open_device(page, live_server, emulator, "Kitchen Relay")
    form = page.locator("#button-form")
    form.get_by_label("Id").fill("relay_on")  # taken: the upstream says so beside the id
    form.get_by_label("Label").fill("Fan on")
    form.get_by_label("Payload (JSON object)").fill('{"fan": "on"}')
    form.get_by_label("Ask for confirmation before sending").check()
    page.get_by_role("button", name="Create button").click()
    expect(page.locator("#button_id_error")).to_contain_text("already exists")
    expect(page.locator("#button-form").get_by_label("Label")).to_have_value("Fan on")
    page.locator("#button-form").get_by_label("Id").fill("fan_on")
    page.get_by_role("button", name="Create button").click()
    expect(page.locator("#buttons-result")).to_have_text(
        "Button “Fan on” created on Kitchen Relay: Command button created."
    )

    page.get_by_role("button", name="Fan on", exact=True).click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("Send “Fan on”")
    dialog.get_by_role("button", name="Send").click()
    expect(page.locator("#buttons-result")).to_have_text(
        "Fan on sent to Kitchen Relay: Command sent."
    )
    assert emulator.state.received_commands(TOKEN_A, uid)[-1]["payload"] == {"fan": "on"}

    page.get_by_role("button", name="Delete the button Fan on").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(page.locator("#buttons-result")).to_have_text(
        "Button “Fan on” deleted from Kitchen Relay: Command button deleted."
    )
    expect(page.get_by_role("button", name="Fan on", exact=True)).to_have_count(0)
    assert page.csp_violations == []


def test_save_as_button_carries_the_payload_over(sign_in, users, emulator, live_server):
    page = sign_in("maintainer")
    open_device(page, live_server, emulator, "Kitchen Relay")
    page.locator("#id_payload").fill('{"fan": "off"}')
    page.get_by_role("button", name="Save as button…").click()
    expect(page.locator("#button_payload")).to_have_value('{"fan": "off"}')
    expect(page.locator("#button_id")).to_be_focused()


def test_one_failing_panel_does_not_take_the_page_down(sign_in, users, emulator, live_server):
    page = sign_in("viewer")
    emulator.set_fault("500", path="/command-buttons$")
    open_device(page, live_server, emulator, "Kitchen Relay")
    expect(page.locator("#buttons-panel")).to_contain_text("could not be loaded")
    expect(page.locator("#commands-panel")).to_contain_text("Commands")
    expect(page.locator("#device-live")).to_contain_text("Online")
