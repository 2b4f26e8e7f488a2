"""The one write path (portal.outcomes.perform): one audit row whatever happens, one Outcome."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal import outcomes
from portal.iot import IoTClient, OutcomeUnknown, Rejected, UpstreamUnavailable, client_for
from portal.models import AuditEvent
from tests.devices_helpers import HTMX, last_audit, uid_of, upstream_calls

CONFIRMED = {"confirmed": "yes"}
# The result names the action and the device before this (portal/results.py).
UNKNOWN = (
    "no answer came, so it may or may not have happened. Check the device before trying again."
)


def _fail(error):
    def call():
        raise error

    return call


@pytest.mark.parametrize(
    ("call", "level", "outcome"),
    [
        (lambda: {"message": "Rebooting."}, "success", "ok"),
        (_fail(Rejected("Device is offline.", 422)), "warning", "rejected"),
        (
            _fail(UpstreamUnavailable("The device service failed (HTTP 500).", 500)),
            "error",
            "failed",
        ),
        (_fail(OutcomeUnknown("No answer came.")), "unknown", "unknown"),
        (_fail(outcomes.Refused("Not now.")), "error", "refused"),
    ],
)
def test_every_ending_of_a_write_is_one_row_and_one_outcome(operator, call, level, outcome):
    actor = outcomes.Actor(user=operator, ip="192.0.2.7")
    result = outcomes.perform(actor, "device.reboot", call, device_uid="esp_1")
    assert result.level == level
    assert AuditEvent.objects.count() == 1
    row = last_audit()
    assert (row.outcome, row.username, row.ip, row.device_uid) == (
        outcome,
        "operator",
        "192.0.2.7",
        "esp_1",
    )
    assert result.event == row


def test_a_bug_inside_a_write_is_still_recorded_once_then_raised(operator):
    with pytest.raises(ZeroDivisionError):
        outcomes.perform(outcomes.Actor(user=operator), "device.reboot", lambda: 1 / 0)
    row = last_audit()
    assert AuditEvent.objects.count() == 1
    assert row.outcome == "failed" and "ZeroDivisionError" in row.message


def test_a_job_without_a_request_writes_as_its_user(operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    client = client_for(operator)
    actor = outcomes.Actor(user=operator, ip=None)
    result = outcomes.perform(actor, "device.reboot", lambda: client.reboot(uid), device_uid=uid)
    assert result.ok and len(upstream_calls(emulator, "POST", "/reboot")) == 1
    assert (last_audit().username, last_audit().token_label) == ("operator", "Team A")


def test_unstorable_input_is_refused_before_the_call(operator):
    calls = []
    result = outcomes.perform(
        outcomes.Actor(user=operator),
        "device.rename",
        lambda: calls.append(1),
        sent={"name": "bad\x00name"},
    )
    assert calls == [] and result.level == "error"
    assert result.errors == {"name": [result.message]} and "NUL" in result.message
    assert last_audit().outcome == "refused" and last_audit().sent == {"name": "bad\\u0000name"}


def test_a_write_whose_answer_never_came_is_shown_as_unknown_and_not_resent(
    as_operator, emulator, monkeypatch
):
    uid = uid_of(emulator, "Kitchen Relay")
    sent = []

    def no_answer(self, uid):
        sent.append(uid)
        raise OutcomeUnknown("The device service did not answer in time.")

    monkeypatch.setattr(IoTClient, "reboot", no_answer)
    response = as_operator.post(reverse("devices:reboot", args=[uid]), CONFIRMED, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert UNKNOWN in body and "alert-unknown" in body and "alert-error" not in body
    assert sent == [uid]  # sent once, never again by itself
    row = last_audit()
    assert row.outcome == AuditEvent.Outcome.UNKNOWN
    assert row.message == "The device service did not answer in time."


def test_an_unknown_outcome_survives_the_redirect_without_javascript(
    as_operator, emulator, monkeypatch
):
    uid = uid_of(emulator, "Kitchen Relay")
    monkeypatch.setattr(IoTClient, "send_command", _raise_unknown)
    response = as_operator.post(
        reverse("devices:send_command", args=[uid]), {"payload": '{"relay": "on"}'}, follow=True
    )
    assert UNKNOWN in response.content.decode()
    assert last_audit().outcome == "unknown" and last_audit().action == "device.command"


def test_an_ota_whose_answer_never_came_is_unknown_in_the_firmware_panel(
    as_maintainer, emulator, monkeypatch
):
    uid = uid_of(emulator, "Kitchen Relay")
    monkeypatch.setattr(IoTClient, "trigger_ota", _raise_unknown)
    response = as_maintainer.post(reverse("firmware:ota", args=[uid]), CONFIRMED, headers=HTMX)
    body = response.content.decode()
    assert UNKNOWN in body and "alert-unknown" in body
    assert last_audit().action == "firmware.ota" and last_audit().outcome == "unknown"


def _raise_unknown(self, *args, **kwargs):
    raise OutcomeUnknown("The connection dropped before the answer came.")


def test_a_write_to_a_device_that_is_not_found_is_a_warning_not_an_error(as_operator, emulator):
    response = as_operator.post(
        reverse("devices:reboot", args=["esp32_nosuchdevice"]), CONFIRMED, headers=HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "alert-warning" in body and "alert-error" not in body
    assert last_audit().outcome == "rejected" and last_audit().status_code == 404


def test_an_invalid_command_form_is_recorded_as_refused(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    response = as_operator.post(
        reverse("devices:send_command", args=[uid]), {"payload": "{nope"}, headers=HTMX
    )
    assert "Line 1, column 2" in response.content.decode()
    assert upstream_calls(emulator, "POST") == []
    row = last_audit()
    assert (row.action, row.outcome, row.sent) == (
        "device.command",
        "refused",
        {"payload": "{nope"},
    )
