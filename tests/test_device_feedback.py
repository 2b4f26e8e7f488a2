"""Feedback that says what happened to what: each result names the action and the device,
replaces the last one in its panel, and the page names the device the same way everywhere."""

from __future__ import annotations

import json
import re

from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from portal.audit_actions import words
from portal.models import AuditEvent
from tests.devices_helpers import HTMX, last_audit, uid_of

CONFIRMED = {"confirmed": "yes"}


def test_a_reboot_result_names_the_action_and_the_device_with_the_upstreams_message(
    as_operator, emulator
):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_operator.post(
        reverse("devices:reboot", args=[uid]), {**CONFIRMED, "device_name": "Kitchen Relay"},
        headers=HTMX,
    ).content.decode()  # fmt: skip
    assert 'role="status"' in body
    assert "<p>Reboot sent to Kitchen Relay: Reboot command sent.</p>" in body


def test_a_refusal_says_what_was_not_done_to_which_device_as_an_alert(as_operator, emulator):
    uid = uid_of(emulator, "Front Porch Light")
    body = as_operator.post(
        reverse("devices:reboot", args=[uid]), {**CONFIRMED, "device_name": "Front Porch Light"},
        headers=HTMX,
    ).content.decode()  # fmt: skip
    assert 'class="alert alert-warning" role="alert"' in body
    assert "Reboot not sent to Front Porch Light: Device is offline." in body


def test_a_device_without_a_name_is_named_by_its_uid(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_operator.post(
        reverse("devices:reboot", args=[uid]), CONFIRMED, headers=HTMX
    ).content.decode()
    assert f"Reboot sent to {uid}: Reboot command sent." in body


def test_an_unknown_outcome_says_so_and_names_the_device(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.set_fault("drop", path="/reboot$")
    body = as_operator.post(
        reverse("devices:reboot", args=[uid]), {**CONFIRMED, "device_name": "Kitchen Relay"},
        headers=HTMX,
    ).content.decode()  # fmt: skip
    assert "Reboot to Kitchen Relay: no answer came, so it may or may not have happened." in body
    assert "Check the device before trying again." in body


def test_a_custom_commands_result_goes_to_the_panels_one_result_area(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_operator.post(
        reverse("devices:send_command", args=[uid]),
        {"payload": '{"relay": "on"}', "device_name": "Kitchen Relay"},
        headers=HTMX,
    ).content.decode()
    # The form comes back as typed; the result replaces whatever the area held.
    assert body.lstrip().startswith('<form id="command-form"')
    area = body[body.index('<div id="commands-result" hx-swap-oob="innerHTML">') :]
    assert (
        'Command {"relay": "on"} sent to Kitchen Relay: Command sent.'.replace('"', "&quot;")
        in area
    )
    assert body.count('class="alert') == 1


def test_a_refused_payload_says_what_is_wrong_in_the_result_area_too(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_operator.post(
        reverse("devices:send_command", args=[uid]),
        {"payload": "{relay: 1}", "device_name": "Kitchen Relay"},
        headers=HTMX,
    ).content.decode()
    area = body[body.index('<div id="commands-result" hx-swap-oob="innerHTML">') :]
    assert "Command not sent to Kitchen Relay: Payload: Line 1, column 2: A key must be" in area
    assert 'role="alert"' in area


def test_a_duplicate_button_id_replaces_the_last_result_instead_of_piling_up(
    as_maintainer, emulator
):
    uid = uid_of(emulator, "Kitchen Relay")
    data = {
        "id": "fan_on",
        "label": "Fan on",
        "payload": '{"fan": "on"}',
        "device_name": "Kitchen Relay",
    }
    url = reverse("devices:create_button", args=[uid])
    created = as_maintainer.post(url, data, headers=HTMX).content.decode()
    assert "Button “Fan on” created on Kitchen Relay: Command button created." in created
    again = as_maintainer.post(url, data, headers=HTMX).content.decode()
    # Only the form comes back, with the refusal beside the id, and the result area's new
    # sentence out of band: the "created" above it is replaced.
    assert again.lstrip().startswith('<form id="button-form"')
    area = again[again.index('<div id="buttons-result" hx-swap-oob="innerHTML">') :]
    assert (
        "Button “Fan on” not created on Kitchen Relay: "
        "A command button with this id already exists." in area
    )
    assert "Command button created." not in again


def test_a_button_sent_names_its_label_and_the_device(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_operator.post(
        reverse("devices:send_button", args=[uid, "relay_on"]),
        {"label": "Relay On", "device_name": "Kitchen Relay"},
        headers=HTMX,
    ).content.decode()
    assert "Relay On sent to Kitchen Relay: Command sent." in body


def test_a_rename_tells_the_page_the_new_name(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    response = as_operator.post(
        reverse("devices:rename", args=[uid]),
        {"name": "Pantry Relay ☕", "was": "Kitchen Relay", "device_name": "Kitchen Relay"},
        headers=HTMX,
    )
    trigger = response["HX-Trigger"]
    assert trigger.isascii()  # a header: the name travels as JSON escapes
    assert json.loads(trigger) == {"device-renamed": {"uid": uid, "name": "Pantry Relay ☕"}}
    assert "Kitchen Relay renamed to Pantry Relay ☕." in response.content.decode()
    description = as_operator.post(
        reverse("devices:rename", args=[uid]), {"description": "Shelf"}, headers=HTMX
    )
    assert "HX-Trigger" not in description


def test_every_confirmation_naming_the_device_carries_a_template_for_a_new_name(
    as_maintainer, emulator
):
    uid = uid_of(emulator, "Garage Door")
    query = {"device_name": "Garage Door"}
    commands = as_maintainer.get(
        reverse("devices:commands", args=[uid]), query, headers=HTMX
    ).content.decode()
    assert 'data-confirm-template="Reboot “{name}”? It restarts now' in commands
    buttons = as_maintainer.get(
        reverse("devices:buttons", args=[uid]), query, headers=HTMX
    ).content.decode()
    assert 'hx-confirm="Send “Open / Close” to Garage Door? It sends' in buttons
    assert 'data-confirm-template="Send “Open / Close” to {name}? It sends {{' in buttons
    firmware = as_maintainer.get(reverse("firmware:panel", args=[uid]), headers=HTMX)
    assert 'data-confirm-template="Start an update of “{name}”?' in firmware.content.decode()
    assert 'data-confirm-template="Delete the firmware “Garage opener” 2.0.1 of “{name}”?' in (
        firmware.content.decode()
    )


def test_the_device_is_named_with_its_uid_beside_or_on_hover(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    commands = as_operator.get(
        reverse("devices:commands", args=[uid]), {"device_name": "Kitchen Relay"}
    ).content.decode()
    assert (
        f'<span data-device-name data-device-uid="{uid}">Kitchen Relay</span> '
        f'<code class="uid">{uid}</code>' in commands
    )
    detail = as_operator.get(reverse("devices:detail", args=[uid])).content.decode()
    assert f'<h1 id="device-title" title="uid {uid}">' in detail
    firmware = as_operator.get(reverse("firmware:panel", args=[uid])).content.decode()
    assert f'<span data-device-name data-device-uid="{uid}">Kitchen Relay</span>' in firmware


def test_a_panels_own_page_is_titled_with_the_devices_name(as_maintainer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    named = {"device_name": "Kitchen Relay"}
    for url, title in (
        (reverse("devices:commands", args=[uid]), "Commands · Kitchen Relay"),
        (reverse("devices:buttons", args=[uid]), "Command buttons · Kitchen Relay"),
        (reverse("fleet:device_tags", args=[uid]), "Tags · Kitchen Relay"),
        (reverse("firmware:panel", args=[uid]), "Firmware · Kitchen Relay"),
    ):
        page = as_maintainer.get(url, named).content.decode()
        assert f"<title>{title} · IoT Device Portal</title>" in page, url


def test_start_update_without_a_target_is_not_the_primary_button_and_says_why(
    as_maintainer, emulator
):
    uid = uid_of(emulator, "Living Room Thermostat")  # firmware, but no target
    body = as_maintainer.get(reverse("firmware:panel", args=[uid]), headers=HTMX).content.decode()
    button = re.search(r'<button type="submit" id="fw-start-update"[^>]*>', body).group()
    assert "primary" not in button and 'aria-describedby="fw-start-update-hint"' in button
    assert ">Assign a target firmware first.</span>" in body
    detail = as_maintainer.get(reverse("devices:detail", args=[uid])).content.decode()
    # The page draws its commands panel in place, knowing the device has no target.
    assert 'aria-describedby="action-ota-hint"' in detail
    commands = as_maintainer.get(
        reverse("devices:commands", args=[uid]), {"target": "none"}, headers=HTMX
    ).content.decode()
    assert 'aria-describedby="action-ota-hint"' in commands
    assert "Assign a target firmware first." in commands

    targeted = uid_of(emulator, "Greenhouse Sensor")
    body = as_maintainer.get(
        reverse("firmware:panel", args=[targeted]), headers=HTMX
    ).content.decode()
    assert (
        '<button type="submit" id="fw-start-update" class="primary">Start update</button>' in body
    )
    assert "Assign a target firmware first." not in body


def test_setting_a_target_tells_the_page_an_update_can_start(as_maintainer, emulator):
    uid = uid_of(emulator, "Living Room Thermostat")
    md5 = next(
        fw["md5"] for fw in emulator.state.list_firmwares(TOKEN_A, uid) if fw["version"] == "2.0.0"
    )
    response = as_maintainer.post(
        reverse("firmware:set_target", args=[uid]),
        {**CONFIRMED, "md5": md5, "device_name": "Living Room Thermostat"},
        headers=HTMX,
    )
    assert response["HX-Trigger"] == "device-target-set"
    body = response.content.decode()
    assert (
        "Firmware “Thermostat” 2.0.0 set as target of Living Room Thermostat: "
        "Firmware assigned to device." in body
    )
    assert body.count('<div id="firmware-result"') == 1


def test_the_ota_call_has_one_name_everywhere(as_maintainer, emulator):
    uid = uid_of(emulator, "Greenhouse Sensor")
    commands = as_maintainer.get(reverse("devices:commands", args=[uid]), headers=HTMX)
    firmware = as_maintainer.get(reverse("firmware:panel", args=[uid]), headers=HTMX)
    for body in (commands.content.decode(), firmware.content.decode()):
        assert ">Start update</button>" in body
        assert "Trigger OTA" not in body and "Check for update" not in body
    assert words("device.ota") == words("firmware.ota") == "Started update"
    result = as_maintainer.post(
        reverse("firmware:ota", args=[uid]), {**CONFIRMED, "device_name": "Greenhouse Sensor"},
        headers=HTMX,
    ).content.decode()  # fmt: skip
    assert "Update started on Greenhouse Sensor: OTA check triggered." in result
    assert last_audit().action == "firmware.ota"
    assert last_audit().outcome == AuditEvent.Outcome.OK
