"""Text no page or file can carry (a lone surrogate, a NUL), from the upstream or from rows
stored before the audit log escaped it, never breaks a page, the CSV export or an audit row."""

from __future__ import annotations

import csv
import io
import json

from django.urls import reverse

from portal import audit, storable
from portal.models import AuditEvent
from tests.devices_helpers import HTMX, last_audit, uid_of

ODD = "Relay \ud800 on"


def _old_row(**fields) -> AuditEvent:
    # SQLite keeps a lone surrogate inside JSON (as an escape): rows like this exist.
    return AuditEvent.objects.create(
        username="operator", action="device.command", outcome="ok", **fields
    )


def test_the_csv_export_escapes_a_lone_surrogate_in_an_old_row(as_admin):
    _old_row(sent={"payload": {"label": ODD}}, device_uid="espressif32_aa")
    _old_row(sent={"name": "fine"}, device_uid="espressif32_bb")
    response = as_admin.get(reverse("team:audit_export"))
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    by_device = {row["device"]: row for row in rows}
    assert set(by_device) >= {"espressif32_aa", "espressif32_bb"}  # the export went on past it
    assert "\\ud800" in by_device["espressif32_aa"]["sent"]


def test_the_audit_log_page_shows_an_old_row_with_a_lone_surrogate(as_admin):
    _old_row(sent={"name": ODD})
    response = as_admin.get(reverse("team:audit"))
    assert response.status_code == 200 and "Relay \ufffd on" in response.content.decode()


def test_a_button_with_a_lone_surrogate_from_the_upstream_does_not_break_the_panel(
    as_operator, emulator
):
    uid = uid_of(emulator, "Kitchen Relay")
    body = b'{"data": [{"id": "b1", "label": "Relay \\ud800 on", "payload": {}, "confirm": false}]}'
    emulator.set_fault(
        "raw", path="/command-buttons$", body=body, headers={"Content-Type": "application/json"}
    )
    response = as_operator.get(reverse("devices:buttons", args=[uid]), headers=HTMX)
    assert response.status_code == 200
    assert "Relay \ufffd on" in response.content.decode()


def test_an_upstream_message_with_a_lone_surrogate_is_shown_and_recorded(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.set_fault(
        "raw",
        path="/reboot$",
        status=422,
        body=b'{"message": "Device \\ud800 is offline."}',
        headers={"Content-Type": "application/json"},
    )
    response = as_operator.post(
        reverse("devices:reboot", args=[uid]), {"confirmed": "yes"}, headers=HTMX
    )
    assert response.status_code == 200 and "Device \ufffd is offline." in response.content.decode()
    # The transport replaces it where the answer is decoded: the page and the row agree.
    assert last_audit().message == "Device \ufffd is offline."


def test_an_audit_row_is_bounded_whatever_it_is_given(operator):
    huge = {"description": "x" * 4_000_000, "payload": {"deep": [[[[1e308]]]], "n": 2**70}}
    event = audit.record(None, "device.rename", sent=huge, user=operator, message="\x00" * 5000)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert len(json.dumps(stored.sent).encode()) <= storable.SENT_LIMIT + 100
    assert storable.TRUNCATED in json.dumps(stored.sent, ensure_ascii=False)
    assert len(stored.message) <= 1000 and "\x00" not in stored.message
