"""The audit log pages: the whole log for admins (filters, pages, CSV), "My activity" for all."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from portal.models import AuditEvent
from portal.team.auditlog import PAGE_SIZE

URL = reverse("team:audit")


def entry(username: str, action: str, **fields) -> AuditEvent:
    return AuditEvent.objects.create(username=username, action=action, outcome="ok", **fields)


def text_of(response) -> str:
    """The page without the line-break chances the table puts inside uids and addresses."""
    return response.content.decode().replace("<wbr>", "")


def csv_rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_admins_filter_by_user_device_action_outcome_and_dates(as_admin, users):
    old = timezone.now() - timedelta(days=10)
    entry("viewer", "device.reboot", device_uid="espressif32_aa", user=users["viewer"])
    entry("operator", "device.rename", device_uid="espressif8266_bb")
    AuditEvent.objects.create(username="operator", action="device.rename", outcome="rejected")
    AuditEvent.objects.create(username="ghost", action="device.reboot", outcome="ok", at=old)

    def rows(**query) -> str:
        return text_of(as_admin.get(URL, query))

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
    assert 'title="test.000"' in second and 'title="test.054"' not in second
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
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["device"] == "espressif32_aa" and row["sent"] == '{"name": "=HYPERLINK(1)"}'
    assert AuditEvent.objects.filter(action="audit.export", username="admin").exists()


def test_a_cell_that_looks_like_a_formula_is_defused():
    from portal.team.auditlog import _cell

    assert _cell("=SUM(A1)") == "'=SUM(A1)" and _cell("-1") == "'-1" and _cell("fine") == "fine"


def test_every_user_sees_only_their_own_activity(client, users):
    entry("viewer", "device.rename", user=users["viewer"], device_uid="mine_1")
    entry("operator", "device.reboot", user=users["operator"], device_uid="theirs_2")
    client.force_login(users["viewer"])
    response = client.get(reverse("team:my_activity"))
    body = text_of(response)
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


def test_the_device_filter_matches_a_part_of_the_name_it_had_or_of_its_uid(as_admin, users):
    entry("operator", "device.reboot", device_uid="espressif32_aa", device_name="Kitchen Relay")
    entry("operator", "device.reboot", device_uid="espressif8266_bb", device_name="Greenhouse")

    def rows(device: str) -> str:
        return text_of(as_admin.get(URL, {"device": device}))

    assert "espressif32_aa" in rows("kitchen") and "espressif8266_bb" not in rows("kitchen")
    assert "espressif32_aa" in rows("EN RE") and "espressif8266_bb" in rows("spressif")
    assert "espressif8266_bb" in rows("HOUSE") and "espressif32_aa" not in rows("8266")


def test_a_row_names_the_device_beside_its_uid(as_admin, users):
    entry("operator", "device.rename", device_uid="espressif32_aa", device_name="Kitchen Relay")
    body = text_of(as_admin.get(URL))
    name = '<span class="device-name">Kitchen Relay</span>'
    assert f'{name} <code class="uid token">espressif32_aa</code>' in body


def test_the_user_filter_offers_the_portals_users_and_any_former_name(as_admin, users):
    entry("viewer", "device.reboot", user=users["viewer"], device_uid="mine_1")
    entry("ghost", "auth.sign_in_failed", device_uid="")
    body = as_admin.get(URL).content.decode()
    select = body[body.index('<select name="user"') : body.index("</select>")]
    for name in ("admin", "maintainer", "operator", "viewer"):
        assert f'<option value="{name}">' in select
    assert "ghost" not in select  # not a user: found by the free-text filter
    assert "ghost" in text_of(as_admin.get(URL, {"username": "hos"}))
    assert "mine_1" not in text_of(as_admin.get(URL, {"username": "hos"}))
    # A link to a former user's name still shows what it filters on.
    former = as_admin.get(URL, {"user": "ghost"}).content.decode()
    assert '<option value="ghost" selected>ghost (not a user now)</option>' in former
    # A name typed in another case selects the user it means.
    assert (
        '<option value="viewer" selected>' in as_admin.get(URL, {"user": "VIEWER"}).content.decode()
    )


def test_actions_read_as_words_with_the_code_on_hover(as_admin, users):
    entry("operator", "device.rename", device_uid="espressif32_aa")
    entry("admin", "auth.sign_in")
    body = as_admin.get(URL).content.decode()
    assert '<span class="action" title="device.rename">Renamed device</span>' in body
    assert '<span class="action" title="auth.sign_in">Signed in</span>' in body
    assert '<option value="device.rename">Renamed device</option>' in body  # the filter too


def test_sent_shows_the_json_as_sent_never_a_python_repr(as_admin, users):
    entry("operator", "button.create", sent={"confirm": True, "label": None, "n": 1})
    entry(
        "operator",
        "device.rename",
        sent={"name": "Pantry Relay", "from": "Kitchen <Relay>"},
    )
    body = as_admin.get(URL).content.decode()
    assert "True" not in body and "None" not in body and "confirm=" not in body
    assert '<code class="sent token">{&quot;confirm&quot;: true, &quot;label&quot;: null' in body
    # A longer one folds, and opens as pretty JSON.
    pretty = (
        "{\n  &quot;name&quot;: &quot;Pantry Relay&quot;,"
        "\n  &quot;from&quot;: &quot;Kitchen &lt;Relay&gt;&quot;\n}"
    )
    assert '<details class="sent"><summary><code>' in body and f"<pre>{pretty}</pre>" in body


def test_the_csv_keeps_every_column_with_the_device_name_and_the_action_in_words(as_admin, users):
    entry(
        "operator",
        "device.rename",
        device_uid="espressif32_aa",
        device_name="Kitchen Relay",
        sent={"name": "Pantry Relay", "from": "Kitchen Relay"},
        ip="203.0.113.9",
        token_label="Team token",
        status_code=200,
        message="Name saved.",
    )
    response = as_admin.get(reverse("team:audit_export"), {"device": "kitchen"})
    (row,) = csv_rows(response)
    assert list(row) == [
        "time (UTC)", "user", "address", "token", "device", "device name (then)", "action",
        "action (words)", "sent", "outcome", "upstream status", "message",
    ]  # fmt: skip
    assert row["device"] == "espressif32_aa" and row["device name (then)"] == "Kitchen Relay"
    assert (row["action"], row["action (words)"]) == ("device.rename", "Renamed device")
    assert row["sent"] == '{"from": "Kitchen Relay", "name": "Pantry Relay"}'
    assert (row["outcome"], row["upstream status"], row["message"]) == ("ok", "200", "Name saved.")
    assert (row["address"], row["token"], row["user"]) == ("203.0.113.9", "Team token", "operator")


def test_every_action_the_portal_records_has_words():
    """Finds the codes in the source (perform, refuse, record, requires, the action tables)
    so a new action cannot reach the log without words."""
    from pathlib import Path

    from portal.audit_actions import ACTION_WORDS

    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(
        r"""["']((?:auth|audit|button|device|firmware|token|user|fleet|tag|library|rollout)\.[a-z_]+)["']"""
    )
    found: set[str] = set()
    for folder in ("portal", "devices", "firmware", "fleet"):
        for path in (root / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            found |= set(pattern.findall(path.read_text()))
    modules = {
        "firmware.urls",
        "firmware.bin",
        "portal.audit",
        "fleet.urls",
        "fleet.tasks",
    }  # not action codes
    missing = sorted(code for code in found - modules if code not in ACTION_WORDS)
    assert len(found) > 25 and missing == []
