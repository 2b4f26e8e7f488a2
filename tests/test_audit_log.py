"""The audit log pages: the whole log for admins (filters, pages, CSV), "My activity" for all."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from portal.models import AuditEvent
from portal.team.auditlog import PAGE_SIZE

URL = reverse("team:audit")


def entry(username: str, action: str, **fields) -> AuditEvent:
    return AuditEvent.objects.create(username=username, action=action, outcome="ok", **fields)


def test_admins_filter_by_user_device_action_outcome_and_dates(as_admin, users):
    old = timezone.now() - timedelta(days=10)
    entry("viewer", "device.reboot", device_uid="espressif32_aa", user=users["viewer"])
    entry("operator", "device.rename", device_uid="espressif8266_bb")
    AuditEvent.objects.create(username="operator", action="device.rename", outcome="rejected")
    AuditEvent.objects.create(username="ghost", action="device.reboot", outcome="ok", at=old)

    def rows(**query) -> str:
        return as_admin.get(URL, query).content.decode()

    assert "espressif32_aa" in rows(user="VIEWER") and "espressif8266_bb" not in rows(user="viewer")
    assert "espressif8266_bb" in rows(device="8266") and "espressif32_aa" not in rows(device="8266")
    assert "ghost" in rows(action="device.reboot") and "espressif8266_bb" not in rows(
        action="device.reboot"
    )
    assert "Rejected by the device service" in rows(outcome="rejected")
    assert "espressif" not in rows(outcome="rejected")
    recent = rows(since=(timezone.now() - timedelta(days=1)).date().isoformat())
    assert "ghost" not in recent and "espressif32_aa" in recent
    assert "ghost" in rows(until=(old + timedelta(days=1)).date().isoformat())


def test_a_bad_filter_is_explained_not_a_crash(as_admin, users):
    response = as_admin.get(URL, {"since": "yesterday", "outcome": "nonsense"})
    assert response.status_code == 200
    assert "Enter a valid date." in response.content.decode()
    response = as_admin.get(URL, {"since": "2030-01-02", "until": "2030-01-01"})
    assert "The end date is before the start date." in response.content.decode()


def test_the_log_is_paged(as_admin, users):
    for n in range(PAGE_SIZE + 5):
        entry("viewer", f"test.{n:03d}")
    first = as_admin.get(URL).content.decode()
    assert "Page 1 of 2" in first and 'rel="next"' in first
    second = as_admin.get(URL, {"page": 2}).content.decode()
    assert "<code>test.000</code>" in second and "<code>test.054</code>" not in second
    assert as_admin.get(URL, {"page": 99}).status_code == 200


def test_htmx_gets_only_the_table(as_admin, users):
    response = as_admin.get(URL, headers={"HX-Request": "true", "HX-Target": "audit-table"})
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="audit-table"') and "<html" not in body


def test_the_csv_export_streams_the_filtered_log(as_admin, users):
    entry("viewer", "device.rename", sent={"name": "=HYPERLINK(1)"}, device_uid="espressif32_aa")
    entry("operator", "device.reboot")
    response = as_admin.get(reverse("team:audit_export"), {"action": "device.rename"})
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["time (UTC)", "user", "address"]
    assert [r[1] for r in rows[1:]] == ["viewer"]
    assert rows[1][4] == "espressif32_aa" and rows[1][6] == '{"name": "=HYPERLINK(1)"}'
    assert AuditEvent.objects.filter(action="audit.export", username="admin").exists()


def test_a_cell_that_looks_like_a_formula_is_defused():
    from portal.team.auditlog import _cell

    assert _cell("=SUM(A1)") == "'=SUM(A1)" and _cell("-1") == "'-1" and _cell("fine") == "fine"


def test_every_user_sees_only_their_own_activity(client, users):
    entry("viewer", "device.rename", user=users["viewer"], device_uid="mine_1")
    entry("operator", "device.reboot", user=users["operator"], device_uid="theirs_2")
    client.force_login(users["viewer"])
    response = client.get(reverse("team:my_activity"))
    body = response.content.decode()
    assert response.status_code == 200 and "My activity" in body
    assert "mine_1" in body and "theirs_2" not in body
    assert 'name="user"' not in body  # no user filter on your own log


def test_nothing_in_the_portal_edits_or_deletes_an_entry(users):
    import pytest

    first = entry("viewer", "device.rename")
    first.message = "changed"
    with pytest.raises(PermissionError):
        first.save()
    with pytest.raises(PermissionError):
        first.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.update(message="x")
