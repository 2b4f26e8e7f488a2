"""The device detail page: every field, nulls, meta, firmware, panels, 404, upstream failure."""

from __future__ import annotations

import pytest
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from tests.devices_helpers import HTMX, uid_of, upstream_calls


def test_it_shows_every_field_of_the_detail_payload(as_viewer, emulator):
    uid = uid_of(emulator, "Greenhouse Sensor")
    body = as_viewer.get(reverse("devices:detail", args=[uid])).content.decode()
    for label in (
        "Name", "Description", "Status", "Online", "Last seen", "First seen", "Last RSSI",
        "Public address", "Local address", "Port", "Last OTA", "Platform", "Board",
        "Board variant", "Current firmware", "Target firmware", "Meta",
    ):  # fmt: skip
        assert f">{label}<" in body, label
    assert "Greenhouse Sensor" in body
    assert "Soil moisture and air temperature, north bench" in body
    assert "8883" in body and "dBm" in body
    assert "1.2.0" in body and "1.3.0" in body  # current and target firmware versions
    assert "<code>mqtt_port</code>" in body  # meta as a key/value list
    assert '<time datetime="' in body and 'title="' in body  # relative time, exact on hover


def test_it_shows_nulls_as_a_dash(as_viewer, emulator):
    uid = uid_of(emulator, "Basement Water Leak")
    emulator.set_device(
        TOKEN_A, uid, description=None, public_ip=None, local_ip=None, last_rssi=None,
        last_ota_at=None, board_variant=None,
    )  # fmt: skip
    body = as_viewer.get(reverse("devices:detail", args=[uid])).content.decode()
    for label in ("Public address", "Local address", "Last RSSI", "Last OTA", "Board variant"):
        assert f"<dt>{label}</dt><dd>—</dd>" in body, label
    assert "<dt>Current firmware</dt><dd>—</dd>" in body  # no firmware at all
    assert "None" not in body


def test_it_renders_whatever_fields_a_firmware_reference_carries(as_viewer, emulator, monkeypatch):
    from portal.iot import IoTClient

    uid = uid_of(emulator, "Greenhouse Sensor")
    real = IoTClient.get_device

    def with_odd_firmware(self, device_uid):
        device = dict(real(self, device_uid))
        device["current_firmware"] = {"version": "9.9.9", "channel": "beta"}  # no name, no md5
        device["target_firmware"] = {"name": "Only a name"}
        return device

    monkeypatch.setattr(IoTClient, "get_device", with_odd_firmware)
    response = as_viewer.get(reverse("devices:detail", args=[uid]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "9.9.9" in body and "beta" in body and "Only a name" in body


def test_it_reads_the_detail_once_and_its_panels_beside_it(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    as_viewer.get(reverse("devices:detail", args=[uid]))
    paths = sorted(e["path"] for e in emulator.request_log)
    base = f"/v1/user/devices/{uid}"
    assert paths == [base, f"{base}/command-buttons", f"{base}/firmwares"]


def test_it_answers_404_for_an_unknown_device(as_viewer, emulator):
    response = as_viewer.get(reverse("devices:detail", args=["espressif32_nosuchdevice"]))
    assert response.status_code == 404
    assert "No such device" in response.content.decode()


def test_it_answers_404_for_a_uid_that_is_not_a_uid_without_calling_upstream(as_viewer, emulator):
    emulator.clear_log()
    response = as_viewer.get("/devices/bad%20uid%3F/")
    assert response.status_code == 404
    assert emulator.request_log == []


def test_it_answers_404_for_another_tokens_device(as_viewer, emulator):
    from emulator.pytest_plugin import TOKEN_B

    other = emulator.device_uid(TOKEN_B, "Kitchen Relay")
    assert as_viewer.get(reverse("devices:detail", args=[other])).status_code == 404


@pytest.mark.parametrize(
    ("fault", "sentence"),
    [
        ("500", "The device service failed (HTTP 500)."),
        ("malformed", "The device service sent an answer the portal could not read."),
    ],
)
def test_it_keeps_its_frame_when_the_upstream_fails(as_viewer, emulator, fault, sentence):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.set_fault(fault)
    response = as_viewer.get(reverse("devices:detail", args=[uid]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "This device could not be loaded." in body and sentence in body
    assert 'href="/devices/"' in body


def test_its_live_block_refreshes_alone_and_keeps_itself_on_failure(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    url = reverse("devices:detail", args=[uid])
    headers = {**HTMX, "HX-Target": "device-live"}
    body = as_viewer.get(url, headers=headers).content.decode()
    assert body.lstrip().startswith('<section id="device-live"')
    emulator.set_fault("500")
    assert as_viewer.get(url, headers=headers).status_code == 204


def test_the_table_links_each_name_to_its_detail(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_viewer.get(reverse("devices:list")).content.decode()
    href = reverse("devices:detail", args=[uid])
    # The title holds the whole name where a phone cuts it short.
    assert f'href="{href}" title="Kitchen Relay">Kitchen Relay</a>' in body


def test_a_viewer_sees_no_edit_controls(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    body = as_viewer.get(reverse("devices:detail", args=[uid])).content.decode()
    assert "inline-value" not in body
    assert len(upstream_calls(emulator, "GET", suffix=uid)) == 1
