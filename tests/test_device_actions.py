"""Reboot, Wi-Fi reset and OTA check: confirmation, the upstream's answer, roles, audit."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from portal.models import AuditEvent
from tests.devices_helpers import HTMX, last_audit, uid_of, upstream_calls

CONFIRMED = {"confirmed": "yes"}


def test_the_panel_offers_each_action_behind_a_confirmation_that_says_what_happens(
    as_maintainer, emulator
):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_maintainer.get(
        reverse("devices:commands", args=[uid]), {"device_name": "Kitchen Relay"}, headers=HTMX
    ).content.decode()
    assert body.lstrip().startswith('<section id="commands-panel"')
    assert "Reboot “Kitchen Relay”? It restarts now" in body
    assert (
        "The device forgets its network and must be provisioned again before it can come back "
        "online." in body
    )
    assert "Start an update of “Kitchen Relay”?" in body
    assert body.count("hx-confirm=") == 3
    assert "data-confirm-danger" in body  # Wi-Fi reset is marked destructive


def test_an_operator_sees_reboot_but_not_wi_fi_reset_or_ota(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_operator.get(reverse("devices:commands", args=[uid]), headers=HTMX).content.decode()
    assert 'id="action-reboot"' in body
    assert 'id="action-wifi_reset"' not in body and 'id="action-ota"' not in body


def test_a_viewer_sees_no_actions(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_viewer.get(reverse("devices:commands", args=[uid]), headers=HTMX).content.decode()
    assert "action-" not in body and "command-form" not in body
    assert "not send it commands" in body


def test_without_confirmation_it_asks_first_and_sends_nothing(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    response = as_operator.post(
        reverse("devices:reboot", args=[uid]), {"device_name": "Kitchen Relay"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Reboot “Kitchen Relay”?" in body and 'name="confirmed" value="yes"' in body
    assert upstream_calls(emulator, "POST") == []


def test_a_confirmed_reboot_shows_the_upstreams_answer_and_is_audited(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_operator.post(
        reverse("devices:reboot", args=[uid]), CONFIRMED, headers=HTMX
    ).content.decode()
    assert 'class="alert alert-success"' in body and "Reboot command sent." in body
    assert emulator.state.received_commands(TOKEN_A, uid)[-1]["type"] == "reboot"
    event = last_audit()
    assert (event.action, event.outcome, event.status_code) == ("device.reboot", "ok", 200)


def test_a_plain_form_reboot_redirects_with_the_message(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    response = as_operator.post(reverse("devices:reboot", args=[uid]), CONFIRMED)
    assert response.status_code == 302
    assert "Reboot command sent." in as_operator.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("Front Porch Light", "Device is offline."),
        ("Attic Fan Controller", "Device is reconnecting. Try again shortly."),
        ("Rain Gauge", "Device has not connected yet."),
    ],
)
def test_a_device_that_cannot_take_commands_gives_the_upstreams_message_as_a_warning(
    as_maintainer, emulator, device, message
):
    uid = uid_of(emulator, device)
    for name in ("devices:reboot", "devices:wifi_reset", "devices:ota"):
        response = as_maintainer.post(reverse(name, args=[uid]), CONFIRMED, headers=HTMX)
        body = response.content.decode()
        assert response.status_code == 200
        assert 'class="alert alert-warning"' in body and message in body
        assert last_audit().outcome == AuditEvent.Outcome.REJECTED
        assert last_audit().status_code == 409


def test_ota_without_a_target_firmware_says_to_assign_one(as_maintainer, emulator):
    uid = uid_of(emulator, "Basement Water Leak")
    body = as_maintainer.post(
        reverse("devices:ota", args=[uid]), CONFIRMED, headers=HTMX
    ).content.decode()
    assert "Assign firmware first to trigger OTA." in body and "alert-warning" in body
    assert (last_audit().action, last_audit().status_code) == ("device.ota", 422)


def test_ota_with_a_target_is_triggered(as_maintainer, emulator):
    uid = uid_of(emulator, "Greenhouse Sensor")
    body = as_maintainer.post(
        reverse("devices:ota", args=[uid]), CONFIRMED, headers=HTMX
    ).content.decode()
    assert "OTA check triggered." in body


def test_wi_fi_reset_is_sent_for_a_maintainer(as_maintainer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_maintainer.post(
        reverse("devices:wifi_reset", args=[uid]), CONFIRMED, headers=HTMX
    ).content.decode()
    assert "Wi-Fi reset command sent." in body
    assert last_audit().action == "device.wifi_reset"


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("devices:wifi_reset", "Resetting a device's Wi-Fi needs the maintainer role."),
        ("devices:ota", "Triggering an OTA update needs the maintainer role."),
    ],
)
def test_an_operator_is_refused_maintainer_actions_and_the_refusal_is_audited(
    as_operator, emulator, name, sentence
):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    response = as_operator.post(reverse(name, args=[uid]), CONFIRMED)
    assert response.status_code == 403 and sentence in html.unescape(response.content.decode())
    assert upstream_calls(emulator, "POST") == []
    assert last_audit().outcome == AuditEvent.Outcome.REFUSED


def test_a_viewer_cannot_reboot(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    assert as_viewer.post(reverse("devices:reboot", args=[uid]), CONFIRMED).status_code == 403


def test_an_upstream_failure_is_an_error_not_a_500(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.set_fault("500")
    response = as_operator.post(reverse("devices:reboot", args=[uid]), CONFIRMED, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "alert-error" in body and "The device service failed (HTTP 500)." in body
    assert last_audit().outcome == AuditEvent.Outcome.FAILED


def test_a_throttled_upstream_says_when_to_try_again(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.set_fault("429", retry_after=7)
    body = as_operator.post(
        reverse("devices:reboot", args=[uid]), CONFIRMED, headers=HTMX
    ).content.decode()
    assert "try again in 7 s" in body and "alert-warning" in body


def test_an_unknown_device_is_a_warning_with_the_upstreams_message(as_operator, emulator):
    body = as_operator.post(
        reverse("devices:reboot", args=["espressif32_nosuchdevice"]), CONFIRMED, headers=HTMX
    ).content.decode()
    assert "Device not found." in body
