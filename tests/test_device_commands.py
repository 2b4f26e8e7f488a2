"""The custom command form: JSON objects only, line numbers, size, built-in look-alikes."""

from __future__ import annotations

import json

from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from portal.models import AuditEvent
from tests.devices_helpers import HTMX, last_audit, uid_of, upstream_calls


def send(client, uid, payload, **extra):
    return client.post(
        reverse("devices:send_command", args=[uid]), {"payload": payload, **extra}, headers=HTMX
    )


def test_it_sends_a_json_object_and_keeps_it_in_the_form(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = send(as_operator, uid, '{"relay": "on"}').content.decode()
    assert "Command sent." in body and "alert-success" in body
    assert body.lstrip().startswith('<form id="command-form"')
    assert "{&quot;relay&quot;: &quot;on&quot;}</textarea>" in body
    received = emulator.state.received_commands(TOKEN_A, uid)[-1]
    assert received["payload"] == {"relay": "on"}
    event = last_audit()
    assert (event.action, event.outcome, event.sent) == (
        "device.command",
        AuditEvent.Outcome.OK,
        {"payload": {"relay": "on"}},
    )


def test_a_parse_error_names_its_line_and_sends_nothing(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    typed = '{\n  "relay": "on",\n  "level": ,\n}'
    body = send(as_operator, uid, typed).content.decode()
    assert "Line 3, column 12: A value is expected here" in body
    assert 'aria-invalid="true"' in body
    assert "&quot;level&quot;: ," in body  # what was typed is kept
    assert upstream_calls(emulator, "POST") == []


def test_it_refuses_a_payload_that_is_not_an_object(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = send(as_operator, uid, "[1, 2, 3]").content.decode()
    assert "The payload must be a JSON object" in body


def test_it_refuses_a_payload_over_8_kb(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = send(as_operator, uid, json.dumps({"blob": "x" * 9000})).content.decode()
    assert "at most 8 KB (8,192 bytes)" in body


def test_it_warns_when_the_payload_looks_like_a_reboot_and_points_at_the_button(
    as_operator, emulator
):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    body = send(as_operator, uid, '{"cmd": "reboot"}').content.decode()
    assert "This payload looks like a reboot." in body
    assert "<strong>Reboot</strong> button" in body
    assert 'name="send_anyway"' in body
    assert upstream_calls(emulator, "POST") == []


def test_it_sends_a_look_alike_when_the_user_insists(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = send(as_operator, uid, '{"cmd": "reboot"}', send_anyway="on").content.decode()
    assert "Command sent." in body


def test_a_command_to_an_offline_device_shows_the_upstreams_message(as_operator, emulator):
    uid = uid_of(emulator, "Front Porch Light")
    response = send(as_operator, uid, '{"light": "on"}')
    body = response.content.decode()
    assert response.status_code == 200
    assert "Device is offline." in body and "alert-warning" in body
    assert "{&quot;light&quot;: &quot;on&quot;}" in body
    assert last_audit().outcome == AuditEvent.Outcome.REJECTED


def test_it_works_as_a_plain_form(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    url = reverse("devices:send_command", args=[uid])
    response = as_operator.post(url, {"payload": '{"relay": "off"}'})
    assert response.status_code == 302
    assert "Command sent." in as_operator.get(response["Location"]).content.decode()
    bad = as_operator.post(url, {"payload": "{"}).content.decode()
    assert "<html" in bad and "Line 1, column 2" in bad


def test_it_refuses_a_viewer(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    response = as_viewer.post(
        reverse("devices:send_command", args=[uid]), {"payload": '{"relay": "on"}'}
    )
    assert response.status_code == 403
    assert last_audit().outcome == AuditEvent.Outcome.REFUSED


def test_only_maintainers_get_the_save_as_button_shortcut(
    as_operator, client, maintainer, emulator
):
    uid = uid_of(emulator, "Kitchen Relay")
    url = reverse("devices:commands", args=[uid])
    assert "Save as button" not in as_operator.get(url, headers=HTMX).content.decode()
    client.force_login(maintainer)
    assert "Save as button" in client.get(url, headers=HTMX).content.decode()
