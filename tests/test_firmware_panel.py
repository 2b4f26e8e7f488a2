"""The firmware panel: the list, in-place edits, delete, set target, OTA and following it."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from portal.iot import IoTClient, Rejected
from portal.models import AuditEvent

HTMX = {"HTTP_HX_REQUEST": "true"}
CONFIRMED = {"confirmed": "yes"}


def uid_of(emulator, name: str) -> str:
    return emulator.device_uid(TOKEN_A, name)


def firmwares(emulator, uid):
    return IoTClient(TOKEN_A, base_url=emulator.url).list_firmwares(uid)


def by_version(emulator, uid, version):
    return next(fw for fw in firmwares(emulator, uid) if fw["version"] == version)


def test_it_lists_every_firmware_with_its_facts_and_badges(as_viewer, emulator):
    uid = uid_of(emulator, "Greenhouse Sensor")
    body = as_viewer.get(reverse("firmware:panel", args=[uid])).content.decode()
    current, target = by_version(emulator, uid, "1.2.0"), by_version(emulator, uid, "1.3.0")
    for fw in (current, target):
        assert fw["md5"] in body and f'data-copy="{fw["md5"]}"' in body
    assert "Adds CO2 sensor support" in body and "Stable OTA build" in body
    assert "KB" in body or "MB" in body  # human sizes
    assert " ago</time>" in body
    assert '<span class="badge badge-current">current</span>' in body
    assert '<span class="badge badge-target">target</span>' in body


def test_it_answers_htmx_with_the_panel_alone(as_viewer, emulator):
    uid = uid_of(emulator, "Greenhouse Sensor")
    body = as_viewer.get(reverse("firmware:panel", args=[uid]), **HTMX).content.decode()
    assert body.lstrip().startswith('<section id="firmware-panel"')
    assert "<html" not in body


def test_it_shows_the_upstream_failure_inside_the_panel(as_viewer, emulator):
    uid = uid_of(emulator, "Greenhouse Sensor")
    emulator.set_fault("500", path=r"/firmwares$")
    body = as_viewer.get(reverse("firmware:panel", args=[uid]), **HTMX).content.decode()
    assert "The device service failed (HTTP 500)." in body and 'id="firmware-panel"' in body


def test_it_edits_a_firmware_in_place(as_maintainer, emulator):
    uid = uid_of(emulator, "Living Room Thermostat")
    fw = by_version(emulator, uid, "1.9.0")
    form = as_maintainer.get(reverse("firmware:edit", args=[uid, fw["id"]]), **HTMX)
    assert 'name="notes"' in form.content.decode() and "Old build, kept for rollback" in (
        form.content.decode()
    )
    url = reverse("firmware:update", args=[uid, fw["id"]])
    saved = as_maintainer.post(
        url, {"name": "Thermostat LTS", "version": "1.9.1", "notes": ""}, **HTMX
    )
    said = "Details of firmware “Thermostat LTS” 1.9.1 saved on Living Room Thermostat."
    assert said in saved.content.decode()
    assert by_version(emulator, uid, "1.9.1")["name"] == "Thermostat LTS"
    event = AuditEvent.objects.get(action="firmware.update")
    assert event.outcome == "ok" and event.sent["name"] == "Thermostat LTS"


def test_it_shows_a_missing_name_beside_the_field(as_maintainer, emulator):
    uid = uid_of(emulator, "Living Room Thermostat")
    fw = by_version(emulator, uid, "1.9.0")
    url = reverse("firmware:update", args=[uid, fw["id"]])
    response = as_maintainer.post(url, {"name": "", "version": "2", "notes": "kept"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 422
    assert (
        'class="field-error" id="fw{}-name-error">This field is required.'.format(fw["id"]) in body
    )
    assert "kept</textarea>" in body


def test_it_shows_the_upstreams_field_errors_beside_the_fields(
    as_maintainer, emulator, monkeypatch
):
    # The portal's form mirrors the emulator's limits, so a stand-in produces the refusal.
    def refuse(self, uid, firmware_id, **fields):
        raise Rejected("The version is taken.", 422, {"version": ["The version is taken."]})

    monkeypatch.setattr(IoTClient, "update_firmware", refuse)
    uid = uid_of(emulator, "Living Room Thermostat")
    fw = by_version(emulator, uid, "1.9.0")
    url = reverse("firmware:update", args=[uid, fw["id"]])
    body = as_maintainer.post(url, {"name": "T", "version": "2.0.0"}, **HTMX).content.decode()
    assert 'id="fw{}-version-error">The version is taken.'.format(fw["id"]) in body
    assert AuditEvent.objects.get(action="firmware.update").outcome == "rejected"


def test_it_asks_before_deleting_without_javascript(as_maintainer, emulator):
    uid = uid_of(emulator, "Living Room Thermostat")
    fw = by_version(emulator, uid, "1.9.0")
    emulator.clear_log()
    response = as_maintainer.post(reverse("firmware:delete", args=[uid, fw["id"]]))
    assert "Delete the firmware “Thermostat” 1.9.0 of" in response.content.decode()
    assert [e for e in emulator.request_log if e["method"] == "DELETE"] == []


def test_it_deletes_an_unassigned_firmware(as_maintainer, emulator):
    uid = uid_of(emulator, "Living Room Thermostat")
    fw = by_version(emulator, uid, "1.9.0")
    url = reverse("firmware:delete", args=[uid, fw["id"]])
    body = as_maintainer.post(url, CONFIRMED, **HTMX).content.decode()
    assert "Firmware deleted." in body
    assert fw["id"] not in [f["id"] for f in firmwares(emulator, uid)]
    event = AuditEvent.objects.get(action="firmware.delete")
    assert event.sent == {"firmware_id": fw["id"], "name": "Thermostat", "md5": fw["md5"]}


def test_it_shows_the_refusal_to_delete_an_assigned_firmware(as_maintainer, emulator):
    uid = uid_of(emulator, "Greenhouse Sensor")
    fw = by_version(emulator, uid, "1.2.0")
    url = reverse("firmware:delete", args=[uid, fw["id"]])
    body = as_maintainer.post(url, CONFIRMED, **HTMX).content.decode()
    assert "Cannot delete firmware while it is assigned to any device." in body
    assert AuditEvent.objects.get(action="firmware.delete").outcome == "rejected"


def test_a_plain_post_redirects_with_the_upstreams_answer(as_maintainer, emulator):
    uid = uid_of(emulator, "Greenhouse Sensor")
    fw = by_version(emulator, uid, "1.2.0")
    response = as_maintainer.post(
        reverse("firmware:delete", args=[uid, fw["id"]]), CONFIRMED, follow=True
    )
    assert "Cannot delete firmware while it is assigned to any device." in response.content.decode()


def test_it_sets_the_target_by_md5(as_maintainer, emulator):
    uid = uid_of(emulator, "Living Room Thermostat")
    fw = by_version(emulator, uid, "2.1.0-beta")
    url = reverse("firmware:set_target", args=[uid])
    body = as_maintainer.post(url, {"md5": fw["md5"], **CONFIRMED}, **HTMX).content.decode()
    assert "Firmware assigned to device." in body
    assert by_version(emulator, uid, "2.1.0-beta")["is_target"] is True
    event = AuditEvent.objects.get(action="firmware.set_target")
    assert event.sent["md5"] == fw["md5"] and event.sent["name"] == "Thermostat"


def test_it_shows_the_message_for_an_unknown_md5(as_maintainer, emulator):
    uid = uid_of(emulator, "Living Room Thermostat")
    url = reverse("firmware:set_target", args=[uid])
    body = as_maintainer.post(url, {"md5": "0" * 32, **CONFIRMED}, **HTMX).content.decode()
    assert "Firmware with the provided md5 was not found for this device." in body
    assert AuditEvent.objects.get(action="firmware.set_target").outcome == "rejected"


def test_it_shows_the_message_for_an_ota_without_a_target(as_maintainer, emulator):
    uid = uid_of(emulator, "Basement Water Leak")
    body = as_maintainer.post(
        reverse("firmware:ota", args=[uid]), CONFIRMED, **HTMX
    ).content.decode()
    assert "Assign firmware first to trigger OTA." in body
    assert AuditEvent.objects.get(action="firmware.ota").outcome == "rejected"


def test_it_follows_the_device_until_it_runs_the_target(as_maintainer, emulator):
    uid = uid_of(emulator, "Greenhouse Sensor")
    body = as_maintainer.post(
        reverse("firmware:ota", args=[uid]), CONFIRMED, **HTMX
    ).content.decode()
    assert "OTA check triggered." in body
    assert 'data-ota-state="downloading"' in body and 'hx-trigger="every 2s"' in body
    time.sleep(1.1)
    done = as_maintainer.get(reverse("firmware:follow", args=[uid]), **HTMX).content.decode()
    assert 'data-ota-state="done"' in done and "hx-trigger" not in done.split("</div>")[0]
    assert "Greenhouse release 1.3.0" in done
    event = AuditEvent.objects.get(action="firmware.ota")
    assert event.outcome == "ok" and event.sent["version"] == "1.3.0"


def test_it_reports_an_ota_error_from_the_device(as_viewer, emulator):
    uid = uid_of(emulator, "Solar Inverter Monitor")
    emulator.set_device(
        TOKEN_A, uid, meta={"ota_status": "error", "ota_error": "Flash write failed"}
    )
    body = as_viewer.get(reverse("firmware:follow", args=[uid]), **HTMX).content.decode()
    assert 'data-ota-state="error"' in body and "Flash write failed" in body


def test_it_stops_following_after_the_time_limit(as_viewer, emulator, settings):
    settings.PORTAL_OTA_FOLLOW_SECONDS = 30
    uid = uid_of(emulator, "Solar Inverter Monitor")  # target 3.5.0 is not current
    since = int(time.time()) - 60
    body = as_viewer.get(
        reverse("firmware:follow", args=[uid]), {"since": since}, **HTMX
    ).content.decode()
    assert "OTA update: timed out." in body and "hx-trigger" not in body


def test_following_without_javascript_refreshes_the_page(as_viewer, emulator):
    uid = uid_of(emulator, "Solar Inverter Monitor")
    response = as_viewer.get(reverse("firmware:follow", args=[uid]), {"since": int(time.time())})
    assert response.status_code == 302
    page = as_viewer.get(response["Location"]).content.decode()
    assert '<meta http-equiv="refresh"' in page and "OTA update: waiting." in page


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_it_shows_no_firmware_controls_to_a_role_without_them(client, users, emulator, role):
    client.force_login(users[role])
    body = client.get(
        reverse("firmware:panel", args=[uid_of(emulator, "Greenhouse Sensor")])
    ).content.decode()
    assert "Greenhouse release" in body
    for control in ('id="upload-form"', "Set as target", ">Delete<", "Trigger OTA", ">Edit<"):
        assert control not in body
