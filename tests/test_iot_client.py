"""portal.iot.IoTClient against the emulator over HTTP: every endpoint, every error path."""

from __future__ import annotations

import io

import pytest

from emulator.pytest_plugin import TOKEN_A, TOKEN_B
from portal.iot import (
    DeviceSummary,
    IoTClient,
    NotFound,
    RateLimited,
    Rejected,
    TokenRejected,
    UpstreamUnavailable,
)

MB4 = 4 * 1024 * 1024


@pytest.fixture
def client(emulator):
    return IoTClient(TOKEN_A, base_url=emulator.url, timeout=1.0, connect_timeout=1.0, retries=1)


def first(devices, status):
    return next(d for d in devices if d.status == status)


@pytest.fixture
def online_uid(client):
    return first(client.list_devices(), "online").uid


def firmware_bytes(tag: bytes = b"A") -> bytes:
    return b"\xe9" + tag * 1023


# --- success ------------------------------------------------------------------------------


def test_it_lists_the_tokens_devices(client):
    devices = client.list_devices()
    assert len(devices) >= 12 and all(isinstance(d, DeviceSummary) for d in devices)
    listed = next(d for d in devices if d.last_seen_at is not None)
    detail = client.get_device(listed.uid)
    assert (listed.name, listed.status, listed.board_variant) == (
        detail["name"],
        detail["status"],
        detail["board_variant"],
    )
    assert listed.platform.key == detail["platform"]["key"]
    assert listed.board.name == detail["board"]["name"]


def test_it_reads_one_device_in_detail(client, online_uid):
    device = client.get_device(online_uid)
    assert device["uid"] == online_uid
    assert "is_online" in device and "meta" in device


def test_it_renames_a_device_and_returns_the_detail(client, online_uid):
    device = client.update_device(online_uid, name="Kitchen Sensor", description="Back door")
    assert device["name"] == "Kitchen Sensor"
    assert client.get_device(online_uid)["description"] == "Back door"


def test_it_reboots_resets_wifi_and_sends_a_command(client, online_uid):
    assert client.reboot(online_uid)["message"] == "Reboot command sent."
    other = [d for d in client.list_devices() if d.status == "online"][1].uid
    assert client.wifi_reset(other)["message"] == "Wi-Fi reset command sent."
    third = [d for d in client.list_devices() if d.status == "online"][2].uid
    sent = client.send_command(third, {"cmd": "relay_toggle", "channel": 1, "state": "on"})
    assert sent == {"message": "Command sent.", "device_uid": third}


def test_it_creates_lists_sends_and_deletes_a_button(client, online_uid):
    button = {"id": "relay_on", "label": "Relay On", "payload": {"cmd": "x"}, "confirm": False}
    created = client.create_button(online_uid, button)
    assert created["message"] == "Command button created."
    assert "relay_on" in [b["id"] for b in client.list_buttons(online_uid)]
    assert client.send_button(online_uid, "relay_on")["message"] == "Command sent."
    assert client.delete_button(online_uid, "relay_on")["message"] == "Command button deleted."


def test_it_uploads_edits_targets_triggers_and_deletes_firmware(client, online_uid):
    firmware = client.upload_firmware(
        online_uid, name="Release build", version="1.0.3", file=io.BytesIO(firmware_bytes())
    )
    assert firmware["name"] == "Release build" and len(firmware["md5"]) == 32
    assert firmware["id"] in [f["id"] for f in client.list_firmwares(online_uid)]
    edited = client.update_firmware(online_uid, firmware["id"], version="1.0.4", notes="ok")
    assert edited["version"] == "1.0.4"
    target = client.set_target(online_uid, firmware["md5"])
    assert target["message"] == "Firmware assigned to device."
    assert client.trigger_ota(online_uid)["message"] == "OTA check triggered."
    other = client.upload_firmware(online_uid, name="Spare", file=io.BytesIO(firmware_bytes(b"B")))
    assert client.delete_firmware(online_uid, other["id"]) == {"message": "Firmware deleted."}


# --- documented validation messages ---------------------------------------------------------


def test_it_keeps_the_duplicate_button_message(client, online_uid):
    button = {"id": "dup", "label": "Dup", "payload": {"cmd": "x"}, "confirm": False}
    client.create_button(online_uid, button)
    with pytest.raises(Rejected) as caught:
        client.create_button(online_uid, button)
    assert caught.value.message == "A command button with this id already exists."


def test_it_keeps_the_duplicate_firmware_message(client, online_uid):
    client.upload_firmware(online_uid, name="One", file=io.BytesIO(firmware_bytes()))
    with pytest.raises(Rejected) as caught:
        client.upload_firmware(online_uid, name="Two", file=io.BytesIO(firmware_bytes()))
    assert caught.value.message == "This firmware file is already uploaded."


def test_it_keeps_the_ota_without_target_message(client):
    device = next(
        d
        for d in client.list_devices()
        if d.status == "online" and client.get_device(d.uid)["target_firmware"] is None
    )
    with pytest.raises(Rejected) as caught:
        client.trigger_ota(device.uid)
    assert caught.value.message == "Assign firmware first to trigger OTA."


def test_it_keeps_the_assigned_firmware_delete_message(client, online_uid):
    firmware = client.upload_firmware(online_uid, name="A", file=io.BytesIO(firmware_bytes()))
    client.set_target(online_uid, firmware["md5"])
    with pytest.raises(Rejected) as caught:
        client.delete_firmware(online_uid, firmware["id"])
    assert caught.value.message == "Cannot delete firmware while it is assigned to any device."


def test_it_keeps_the_unknown_md5_message(client, online_uid):
    with pytest.raises(NotFound) as caught:
        client.set_target(online_uid, "0" * 32)
    assert caught.value.message == "Firmware with the provided md5 was not found for this device."


def test_it_keeps_field_errors_beside_the_message(client, online_uid):
    with pytest.raises(Rejected) as caught:
        client.update_device(online_uid, name="")
    assert caught.value.errors["name"]


def test_it_reports_an_offline_device_refusing_a_command(client):
    offline = first(client.list_devices(), "offline").uid
    with pytest.raises(Rejected) as caught:
        client.reboot(offline)
    assert caught.value.message == "Device is offline."


def test_it_refuses_a_file_over_4_mb_before_sending(client, online_uid, emulator):
    emulator.clear_log()
    with pytest.raises(Rejected):
        client.upload_firmware(
            online_uid, name="Big", file=io.BytesIO(b"\xe9" * (MB4 + 1)), size=MB4 + 1
        )
    assert emulator.request_log == []


def test_it_accepts_a_file_of_exactly_4_mb(client, online_uid):
    firmware = client.upload_firmware(
        online_uid, name="Edge", file=io.BytesIO(b"\xe9" * MB4), size=MB4
    )
    assert firmware["size"] == MB4


# --- 401, 404 ---------------------------------------------------------------------------------


def test_it_reports_a_rejected_token(emulator):
    client = IoTClient("not-a-real-token", base_url=emulator.url, timeout=1.0)
    with pytest.raises(TokenRejected) as caught:
        client.list_devices()
    assert "token was rejected" in caught.value.message


def test_it_cannot_see_another_tokens_device(emulator, client):
    other = IoTClient(TOKEN_B, base_url=emulator.url, timeout=1.0).list_devices()[0].uid
    with pytest.raises(NotFound):
        client.get_device(other)


@pytest.mark.parametrize(
    "call",
    [
        lambda c, u: c.delete_button(u, "no_such_button"),
        lambda c, u: c.send_button(u, "no_such_button"),
        lambda c, u: c.delete_firmware(u, 999999),
        lambda c, u: c.update_firmware(u, 999999, name="x"),
    ],
    ids=["delete button", "send button", "delete firmware", "update firmware"],
)
def test_it_reports_unknown_buttons_and_firmware_as_not_found(client, online_uid, call):
    with pytest.raises(NotFound):
        call(client, online_uid)


# --- injected faults ----------------------------------------------------------------------


def test_it_turns_a_500_into_upstream_unavailable(client, emulator):
    emulator.set_fault("500")
    with pytest.raises(UpstreamUnavailable) as caught:
        client.list_devices()
    assert caught.value.message == "The device service failed (HTTP 500)."


def test_it_turns_a_hung_response_into_a_timeout_message(client, emulator):
    emulator.set_fault("hang", hang_seconds=3)
    with pytest.raises(UpstreamUnavailable) as caught:
        client.list_devices()
    assert caught.value.message == "The device service did not answer within 1 s."


def test_it_turns_malformed_json_into_upstream_unavailable(client, emulator):
    emulator.set_fault("malformed")
    with pytest.raises(UpstreamUnavailable) as caught:
        client.list_devices()
    assert "could not read" in caught.value.message


def test_it_turns_an_html_page_into_upstream_unavailable(client, emulator):
    emulator.set_fault("html")
    with pytest.raises(UpstreamUnavailable) as caught:
        client.list_devices()
    assert "could not read" in caught.value.message


def test_it_turns_an_html_error_page_into_upstream_unavailable(client, emulator):
    emulator.set_fault("503_html")
    with pytest.raises(UpstreamUnavailable) as caught:
        client.list_devices()
    assert caught.value.message == "The device service failed (HTTP 503)."


def test_it_reports_rate_limiting_with_the_retry_after(client, emulator):
    emulator.set_fault("429", retry_after=42)
    with pytest.raises(RateLimited) as caught:
        client.list_devices()
    assert caught.value.retry_after == 42
    assert "try again in 42 s" in caught.value.message


def test_it_turns_a_dropped_connection_into_upstream_unavailable(client, emulator):
    emulator.set_fault("drop")
    with pytest.raises(UpstreamUnavailable) as caught:
        client.list_devices()
    assert caught.value.message == "The device service could not be reached."


def test_it_reports_a_refused_connection(unused_port_url):
    client = IoTClient(TOKEN_A, base_url=unused_port_url, timeout=1.0, retries=0)
    with pytest.raises(UpstreamUnavailable) as caught:
        client.list_devices()
    assert caught.value.message == "The device service could not be reached."


# --- retries and pagination -----------------------------------------------------------------


def test_it_retries_a_read_after_one_failure(client, emulator):
    emulator.set_fault("drop", count=1)
    assert len(client.list_devices()) >= 12
    assert [e["path"] for e in emulator.request_log].count("/v1/user/devices") == 2


def test_it_never_retries_a_write(client, emulator, online_uid):
    emulator.clear_log()
    emulator.set_fault("drop", count=1)
    with pytest.raises(UpstreamUnavailable):
        client.reboot(online_uid)
    assert len([e for e in emulator.request_log if e["method"] == "POST"]) == 1


def test_it_follows_next_links_through_every_page(emulator):
    from emulator.server import Emulator

    with Emulator(tokens=(TOKEN_A,), fleet_size=45, page_size=10) as paged:
        client = IoTClient(TOKEN_A, base_url=paged.url, timeout=2.0)
        devices = client.list_devices()
        assert len(devices) == 45
        assert len({d.uid for d in devices}) == 45
        assert len(paged.request_log) == 5


def test_it_never_shows_the_token_in_its_repr_or_errors(client, emulator):
    emulator.set_fault("500")
    with pytest.raises(UpstreamUnavailable) as caught:
        client.list_devices()
    for text in (repr(client), str(caught.value), repr(caught.value), str(caught.value.args)):
        assert TOKEN_A not in text
