"""Command buttons: shown, sent (with confirmation when flagged), created, deleted."""

from __future__ import annotations

from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from portal.models import AuditEvent
from tests.devices_helpers import HTMX, last_audit, uid_of, upstream_calls

NEW = {"id": "fan_on", "label": "Fan on", "payload": '{"fan": "on"}'}


def test_the_panel_shows_the_buttons_and_marks_those_that_ask_first(as_operator, emulator):
    uid = uid_of(emulator, "Garage Door")
    response = as_operator.get(reverse("devices:buttons", args=[uid]), headers=HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="buttons-panel"')
    assert 'id="send-door_toggle"' in body
    assert body.count("hx-confirm=") == 1  # door_toggle has confirm: true
    assert "button-form" not in body  # operators send, maintainers manage
    assert "delete-" not in body


def test_a_device_without_buttons_says_so(as_viewer, emulator):
    uid = uid_of(emulator, "Basement Water Leak")
    body = as_viewer.get(reverse("devices:buttons", args=[uid]), headers=HTMX).content.decode()
    assert "No command buttons on this device yet." in body


def test_a_failing_upstream_fails_only_this_panel(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.set_fault("500", path="/command-buttons$")
    response = as_viewer.get(reverse("devices:buttons", args=[uid]), headers=HTMX)
    assert response.status_code == 200
    assert "The command buttons could not be loaded." in response.content.decode()
    assert as_viewer.get(reverse("devices:detail", args=[uid])).status_code == 200


def test_sending_a_button_shows_the_upstreams_answer(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_operator.post(
        reverse("devices:send_button", args=[uid, "relay_on"]), headers=HTMX
    ).content.decode()
    assert "Command sent." in body and "alert-success" in body
    assert emulator.state.received_commands(TOKEN_A, uid)[-1]["type"] == "command"
    assert (last_audit().action, last_audit().sent) == ("button.send", {"button_id": "relay_on"})


def test_a_button_marked_confirm_asks_first_without_javascript(as_operator, emulator):
    uid = uid_of(emulator, "Garage Door")
    url = reverse("devices:send_button", args=[uid, "door_toggle"])
    emulator.clear_log()
    asked = as_operator.post(url, {"needs_confirm": "yes", "label": "Toggle door"})
    assert "Send “Toggle door” to" in asked.content.decode()
    assert upstream_calls(emulator, "POST") == []
    sent = as_operator.post(url, {"needs_confirm": "yes", "confirmed": "yes"})
    assert sent.status_code == 302 and len(upstream_calls(emulator, "POST")) == 1


def test_sending_to_an_offline_device_shows_its_message(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.set_device(TOKEN_A, uid, status="offline")
    body = as_operator.post(
        reverse("devices:send_button", args=[uid, "relay_on"]), headers=HTMX
    ).content.decode()
    assert "Device is offline." in body and "alert-warning" in body


def test_a_maintainer_creates_a_button(as_maintainer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    response = as_maintainer.post(
        reverse("devices:create_button", args=[uid]), {**NEW, "confirm": "on"}, headers=HTMX
    )
    body = response.content.decode()
    assert response["HX-Retarget"] == "#buttons-panel"
    assert "Command button created." in body and 'id="send-fan_on"' in body
    stored = emulator.state.list_buttons(TOKEN_A, uid)[-1]
    assert stored == {"id": "fan_on", "label": "Fan on", "payload": {"fan": "on"}, "confirm": True}
    event = last_audit()
    assert (event.action, event.outcome, event.status_code) == ("button.create", "ok", 201)
    assert event.sent["payload"] == {"fan": "on"}


def test_a_duplicate_id_is_shown_beside_the_id_and_the_form_is_kept(as_maintainer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    response = as_maintainer.post(
        reverse("devices:create_button", args=[uid]),
        {"id": "relay_on", "label": "Again", "payload": '{"x": 1}'},
        headers=HTMX,
    )
    body = response.content.decode()
    assert response["HX-Retarget"] == "#button-form"
    assert 'id="button_id_error"' in body
    assert "A command button with this id already exists." in body
    assert 'value="Again"' in body and "{&quot;x&quot;: 1}" in body
    assert last_audit().outcome == AuditEvent.Outcome.REJECTED


def test_the_form_checks_the_id_and_payload_before_sending(as_maintainer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    body = as_maintainer.post(
        reverse("devices:create_button", args=[uid]),
        {"id": "has space", "label": "", "payload": "{oops"},
        headers=HTMX,
    ).content.decode()
    assert "Use 1 to 64 letters, digits, hyphens or underscores." in body
    assert "Give the button a label" in body
    assert "Line 1, column 2" in body
    assert upstream_calls(emulator, "POST") == []


def test_save_as_button_fills_the_form_with_the_payload(as_maintainer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    response = as_maintainer.post(
        reverse("devices:create_button", args=[uid]),
        {"payload": '{"fan": "off"}', "draft": "yes"},
        headers=HTMX,
    )
    body = response.content.decode()
    # The whole panel, so the draft lands even if the panel had not loaded yet.
    assert response["HX-Retarget"] == "#buttons-panel"
    assert 'id="buttons-panel"' in body
    assert "{&quot;fan&quot;: &quot;off&quot;}</textarea>" in body
    assert "field-error" not in body and "autofocus" in body
    assert [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in emulator.request_log] == [
        ("GET", "command-buttons")  # the panel's list; nothing is created
    ]


def test_a_maintainer_deletes_a_button_after_confirming(as_maintainer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    url = reverse("devices:delete_button", args=[uid, "relay_off"])
    asked = as_maintainer.post(url, {"label": "Relay off"})
    assert "Delete the button “Relay off” from" in asked.content.decode()
    assert any(b["id"] == "relay_off" for b in emulator.state.list_buttons(TOKEN_A, uid))
    body = as_maintainer.post(url, {"confirmed": "yes"}, headers=HTMX).content.decode()
    assert "Command button deleted." in body and "send-relay_off" not in body
    assert all(b["id"] != "relay_off" for b in emulator.state.list_buttons(TOKEN_A, uid))
    assert (last_audit().action, last_audit().sent) == ("button.delete", {"button_id": "relay_off"})


def test_deleting_a_missing_button_shows_the_upstreams_message(as_maintainer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_maintainer.post(
        reverse("devices:delete_button", args=[uid, "nope"]), {"confirmed": "yes"}, headers=HTMX
    ).content.decode()
    assert "Command button not found." in body


def test_an_operator_may_not_create_or_delete_buttons(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    created = as_operator.post(reverse("devices:create_button", args=[uid]), NEW)
    deleted = as_operator.post(
        reverse("devices:delete_button", args=[uid, "relay_on"]), {"confirmed": "yes"}
    )
    assert created.status_code == deleted.status_code == 403
    assert AuditEvent.objects.filter(outcome=AuditEvent.Outcome.REFUSED).count() == 2


def test_a_viewer_may_not_send_a_button(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_viewer.get(reverse("devices:buttons", args=[uid]), headers=HTMX).content.decode()
    assert "send-relay_on" not in body
    response = as_viewer.post(reverse("devices:send_button", args=[uid, "relay_on"]))
    assert response.status_code == 403


def test_the_plain_page_works_without_javascript(as_maintainer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    page = as_maintainer.get(reverse("devices:buttons", args=[uid])).content.decode()
    assert "<html" in page and 'id="button-form"' in page
    created = as_maintainer.post(reverse("devices:create_button", args=[uid]), NEW)
    assert created.status_code == 302
    assert "Command button created." in as_maintainer.get(created["Location"]).content.decode()
