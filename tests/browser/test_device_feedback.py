"""Feedback that says what happened to what: results, names, the JSON check, action names."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from emulator.pytest_plugin import TOKEN_A
from portal.models import AuditEvent
from portal.payloads import PayloadError, parse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture(params=["desktop", "phone"])
def screen(request, browser, live_server, users):
    """A signed-in maintainer's page, on a desktop and on a 375 px phone."""
    from tests.conftest import PASSWORD

    context = browser.new_context(**(PHONE if request.param == "phone" else DESKTOP))
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("maintainer")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Sign in").click()
    yield page
    context.close()


def open_device(page, live_server, emulator, name: str) -> str:
    uid = emulator.device_uid(TOKEN_A, name)
    page.goto(f"{live_server.url}/devices/{uid}/")
    expect(page.locator("#device-title")).to_have_text(name)
    for panel in ("#commands-panel", "#buttons-panel", "#firmware-panel"):
        expect(page.locator(panel)).not_to_have_attribute("aria-busy", "true")
    return uid


def confirm(page, label: str) -> None:
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=label).click()


def test_a_new_result_replaces_the_last_one_and_says_what_happened_to_what(
    screen, users, emulator, live_server
):
    page = screen
    open_device(page, live_server, emulator, "Kitchen Relay")
    result = page.locator("#buttons-result")
    form = page.locator("#button-form")
    form.get_by_label("Id").fill("fan_on")
    form.get_by_label("Label").fill("Fan on")
    form.get_by_label("Payload (JSON object)").fill('{"fan": "on"}')
    form.get_by_role("button", name="Create button").click()
    expect(result).to_have_text("Button “Fan on” created on Kitchen Relay: Command button created.")
    expect(result.get_by_role("status")).to_have_count(1)

    # The same id again: the refusal takes the place of the success, it does not pile up.
    form = page.locator("#button-form")
    form.get_by_label("Id").fill("fan_on")
    form.get_by_label("Label").fill("Fan again")
    form.get_by_label("Payload (JSON object)").fill('{"fan": "on"}')
    form.get_by_role("button", name="Create button").click()
    expect(result).to_have_text(
        "Button “Fan again” not created on Kitchen Relay: "
        "A command button with this id already exists."
    )
    expect(result.get_by_role("alert")).to_have_count(1)
    expect(page.locator("#buttons-panel")).not_to_contain_text("Command button created.")
    expect(page.locator("#button_id_error")).to_contain_text("already exists")

    page.get_by_role("button", name="Relay On", exact=True).click()
    expect(result).to_have_text("Relay On sent to Kitchen Relay: Command sent.")
    expect(page.locator("#buttons-panel .alert")).to_have_count(1)

    # The commands panel: an action, then a command, one result at a time.
    commands = page.locator("#commands-result")
    page.locator("#action-reboot").click()
    confirm(page, "Reboot")
    expect(commands).to_have_text("Reboot sent to Kitchen Relay: Reboot command sent.")
    page.locator("#id_payload").fill('{"relay": ')
    page.get_by_role("button", name="Send command").click()
    expect(commands.get_by_role("alert")).to_have_text(
        "Command not sent to Kitchen Relay: Payload: Line 1, column 11: "
        "The JSON ends where a value should be."
    )
    expect(page.locator("#commands-panel .alert")).to_have_count(1)


def test_after_a_rename_the_dialogs_forms_and_results_use_the_new_name(
    sign_in, users, emulator, live_server
):
    page = sign_in("maintainer")
    uid = open_device(page, live_server, emulator, "Living Room Thermostat")
    page.locator("#edit-name").click()
    field = page.get_by_label("Name", exact=True)
    field.fill("Hallway Thermostat")
    field.press("Enter")
    expect(page.locator("#field-name")).to_contain_text(
        "Living Room Thermostat renamed to Hallway Thermostat."
    )
    expect(page.locator("#device-title")).to_have_text("Hallway Thermostat")
    dialog = page.locator("#confirm-dialog")

    page.locator("#action-reboot").click()
    expect(dialog).to_contain_text("Reboot “Hallway Thermostat”?")
    dialog.get_by_role("button", name="Cancel").click()

    page.get_by_role("button", name="Restore Schedule", exact=True).click()
    expect(dialog).to_contain_text("Send “Restore Schedule” to Hallway Thermostat?")
    confirm(page, "Send")
    expect(page.locator("#buttons-result")).to_have_text(
        "Restore Schedule sent to Hallway Thermostat: Command sent."
    )
    sent = AuditEvent.objects.filter(action="button.send").latest("id")
    assert (sent.device_uid, sent.device_name) == (uid, "Hallway Thermostat")

    card = page.locator("article.fw-card", has_text="2.0.0")
    card.get_by_role("button", name="Delete").click()
    expect(dialog).to_contain_text(
        "Delete the firmware “Thermostat” 2.0.0 of “Hallway Thermostat”?"
    )
    dialog.get_by_role("button", name="Cancel").click()
    page.locator("#fw-start-update").click()
    expect(dialog).to_contain_text("Start an update of “Hallway Thermostat”?")
    dialog.get_by_role("button", name="Cancel").click()
    assert page.csp_violations == []


def test_start_update_waits_for_a_target_firmware_and_has_one_name(
    sign_in, users, emulator, live_server
):
    page = sign_in("maintainer")
    open_device(page, live_server, emulator, "Living Room Thermostat")  # no target firmware
    start = page.locator("#fw-start-update")
    expect(start).to_have_text("Start update")
    expect(start).not_to_have_class(re.compile(r"\bprimary\b"))
    expect(start).to_have_accessible_description("Assign a target firmware first.")
    commands_start = page.locator("#action-ota")
    expect(commands_start).to_have_text("Start update")
    expect(commands_start).to_have_accessible_description("Assign a target firmware first.")
    expect(
        page.get_by_role("button", name=re.compile("Trigger OTA|Check for update"))
    ).to_have_count(0)

    page.locator("article.fw-card", has_text="2.1.0-beta").get_by_role(
        "button", name="Set as target"
    ).click()
    confirm(page, "Set target")
    expect(page.locator("#firmware-result")).to_have_text(
        "Firmware “Thermostat” 2.1.0-beta set as target of Living Room Thermostat: "
        "Firmware assigned to device."
    )
    expect(page.locator("#fw-start-update")).to_have_class(re.compile(r"\bprimary\b"))
    expect(page.locator("#fw-start-update")).to_have_accessible_description("")
    expect(commands_start).to_have_accessible_description("")
    expect(page.get_by_text("Assign a target firmware first.")).to_have_count(0)

    commands_start.click()
    confirm(page, "Start update")
    expect(page.locator("#commands-result")).to_have_text(
        "Update started on Living Room Thermostat: OTA check triggered."
    )


# Every kind of mistake, including those the engine words as "Unexpected token" with no place.
MISTAKES = [
    '{"relay": "on",}',
    '{"relay": "on"',
    '{"relay": on}',
    '{"relay": tru}',
    "{relay: 1}",
    "{'relay': 1}",
    "{\"relay\": 'on'}",
    '{"relay" "on"}',
    '{"a": 1 "b": 2}',
    '{"a": [1 2]}',
    '{"a": [1, 2,]}',
    '{"a": 1} x',
    '{"a": "on',
    '{"a": "x\ty"}',
    '{"a": "\\q"}',
    '{"a": "\\u12"}',
    '{"a": -}',
    '{"a": 01}',
    '{"a": 1.}',
    '{"a": NaN}',
    '{"a": -Infinity}',
    '{\n  "relay": "on",\n  "level": ,\n}',
    '{"a":1,,}',
    "{",
    "[1, 2]",
    '"reboot"',
    '{"é": "ü", "b" 1}',
]


def test_the_json_check_says_what_and_where_in_the_servers_own_sentences(
    sign_in, users, emulator, live_server
):
    page = sign_in("operator")
    open_device(page, live_server, emulator, "Kitchen Relay")
    for text in MISTAKES:
        with pytest.raises(PayloadError) as caught:
            parse(text)
        expected = caught.value.message
        shown = page.evaluate("t => window.PortalPayload.check(t, 8192)", text)
        assert shown == expected, text
        assert re.match(r"(Line \d+, column \d+: )?[A-Z\-]", shown), shown
        if text not in ("[1, 2]", '"reboot"'):
            assert re.match(r"Line \d+, column \d+: [A-Z-]", shown), shown
    assert page.evaluate("t => window.PortalPayload.check(t, 8192)", '{"relay": "on"}') == ""

    # And as typed: the hint says it, for an error the engine gives no place for.
    payload = page.locator("#id_payload")
    payload.fill('{"relay": tru}')
    expect(page.locator("#id_payload_hint")).to_have_text(
        "Line 1, column 11: The word tru is not a JSON value: put text in double quotes, like "
        '"tru" (true, false and null are written without quotes).'
    )
    expect(payload).to_have_attribute("aria-invalid", "true")
