"""Audit rows name the device as it was called when the row was written, beside its uid;
a rename records the old value and the new one."""

from __future__ import annotations

import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from portal import audit
from portal.models import AuditEvent
from portal.outcomes import Actor, perform
from tests import firmware_samples as samples
from tests.devices_helpers import HTMX, last_audit, uid_of, upstream_calls


def hidden(body: str, name: str) -> list[str]:
    """The values of every hidden field of that name in a page."""
    return re.findall(rf'<input type="hidden" name="{name}" value="([^"]*)">', body)


def test_the_edit_form_carries_the_value_it_started_from_and_the_devices_name(
    as_operator, emulator
):
    uid = uid_of(emulator, "Kitchen Relay")
    url = reverse("devices:edit", args=[uid, "description"])
    body = as_operator.get(url, headers=HTMX).content.decode()
    assert hidden(body, "was") == ["Mounted near the back door"]
    assert hidden(body, "device_name") == ["Kitchen Relay"]


def test_a_rename_records_the_old_and_the_new_name_and_is_filed_under_the_old_one(
    as_operator, emulator
):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    form = {"name": "Pantry Relay", "was": "Kitchen Relay", "device_name": "Kitchen Relay"}
    as_operator.post(reverse("devices:rename", args=[uid]), form, headers=HTMX)
    event = last_audit()
    assert event.sent == {"name": "Pantry Relay", "from": "Kitchen Relay"}
    assert (event.device_uid, event.device_name) == (uid, "Kitchen Relay")
    # The form said what it started from: no read before the write.
    assert [c["method"] for c in emulator.request_log] == ["PATCH"]


def test_a_rename_posted_without_the_old_value_reads_it_from_the_detail(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    as_operator.post(reverse("devices:rename", args=[uid]), {"name": "Pantry Relay"})
    event = last_audit()
    assert event.sent == {"name": "Pantry Relay", "from": "Kitchen Relay"}
    assert event.device_name == "Kitchen Relay"


def test_a_rename_the_upstream_refuses_still_records_both_values(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    form = {"name": "x" * 256, "was": "Kitchen Relay", "device_name": "Kitchen Relay"}
    body = as_operator.post(
        reverse("devices:rename", args=[uid]), form, headers=HTMX
    ).content.decode()
    event = last_audit()
    assert event.outcome == AuditEvent.Outcome.REJECTED
    assert event.sent == {"name": "x" * 256, "from": "Kitchen Relay"}
    assert event.device_name == "Kitchen Relay"
    # The form comes back still carrying what it started from, for the next try.
    assert hidden(body, "was") == ["Kitchen Relay"]


def test_a_description_edit_is_filed_under_the_devices_current_name(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    form = {"description": "Under the sink", "was": "Old text", "device_name": "Kitchen Relay"}
    as_operator.post(reverse("devices:rename", args=[uid]), form, headers=HTMX)
    event = last_audit()
    assert event.sent == {"description": "Under the sink", "from": "Old text"}
    assert event.device_name == "Kitchen Relay"


def test_a_reboot_is_filed_under_the_name_the_panel_showed(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    panel = as_operator.get(
        reverse("devices:commands", args=[uid]), {"device_name": "Kitchen Relay"}, headers=HTMX
    ).content.decode()
    assert set(hidden(panel, "device_name")) == {"Kitchen Relay"}
    form = {"confirmed": "yes", "device_name": "Kitchen Relay"}
    as_operator.post(reverse("devices:reboot", args=[uid]), form, headers=HTMX)
    event = last_audit()
    assert (event.action, event.device_uid, event.device_name) == (
        "device.reboot",
        uid,
        "Kitchen Relay",
    )


def test_command_buttons_are_filed_under_the_devices_name(as_operator, as_maintainer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    panel = as_maintainer.get(
        reverse("devices:buttons", args=[uid]), {"device_name": "Kitchen Relay"}, headers=HTMX
    ).content.decode()
    # The create form and every button's send and delete forms carry it.
    assert hidden(panel, "device_name").count("Kitchen Relay") >= 3
    form = {"id": "open", "label": "Open", "payload": '{"relay": "on"}'}
    as_maintainer.post(
        reverse("devices:create_button", args=[uid]),
        {**form, "device_name": "Kitchen Relay"},
        headers=HTMX,
    )
    assert (last_audit().action, last_audit().device_name) == ("button.create", "Kitchen Relay")
    as_maintainer.post(
        reverse("devices:send_button", args=[uid, "open"]),
        {"device_name": "Kitchen Relay"},
        headers=HTMX,
    )
    assert (last_audit().action, last_audit().device_name) == ("button.send", "Kitchen Relay")


def test_a_refusal_by_role_is_filed_under_the_devices_name_too(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    form = {"confirmed": "yes", "device_name": "Kitchen Relay"}
    assert as_viewer.post(reverse("devices:reboot", args=[uid]), form).status_code == 403
    event = last_audit()
    assert event.outcome == AuditEvent.Outcome.REFUSED and event.device_name == "Kitchen Relay"


def test_a_firmware_upload_is_filed_under_the_name_in_the_devices_detail(as_maintainer, emulator):
    uid = emulator.device_uid(TOKEN_A, "Greenhouse Sensor")
    upload = SimpleUploadedFile("app.bin", samples.esp32_image(), "application/octet-stream")
    form = {"name": "Release", "version": "1.0", "notes": "", "file": upload}
    as_maintainer.post(reverse("firmware:upload", args=[uid]), form, HTTP_HX_REQUEST="true")
    event = AuditEvent.objects.get(action="firmware.upload")
    assert event.outcome == AuditEvent.Outcome.OK
    assert (event.device_uid, event.device_name) == (uid, "Greenhouse Sensor")


def test_the_firmware_panel_forms_carry_the_devices_name(as_maintainer, emulator):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    body = as_maintainer.get(reverse("firmware:panel", args=[uid]), headers=HTMX).content.decode()
    assert "Kitchen Relay" in hidden(body, "device_name")  # the OTA form at least


def test_a_firmware_ota_is_filed_under_the_name_in_the_detail_it_reads(as_maintainer, emulator):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    as_maintainer.post(reverse("firmware:ota", args=[uid]), {"confirmed": "yes"}, headers=HTMX)
    event = AuditEvent.objects.get(action="firmware.ota")
    assert event.device_name == "Kitchen Relay"
    assert upstream_calls(emulator, "GET", uid)  # it read the detail anyway, for the target


def test_a_name_that_is_only_the_uid_again_is_not_stored(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    form = {"confirmed": "yes", "device_name": uid}
    as_operator.post(reverse("devices:reboot", args=[uid]), form, headers=HTMX)
    assert last_audit().device_name == ""


def test_a_job_without_a_page_records_no_name_and_never_fails(operator):
    outcome = perform(Actor(user=operator), "device.reboot", lambda: {}, device_uid="esp_1")
    assert outcome.ok and outcome.event.device_name == ""


def test_the_name_is_escaped_and_cut_to_its_column(operator):
    event = audit.record(
        None, "device.reboot", user=operator, device_uid="esp_1", device_name="a\x00b" + "c" * 300
    )
    event.refresh_from_db()
    assert event.device_name.startswith("a\\u0000b") and len(event.device_name) == 100
