"""A write sent whose answer never came has an unknown outcome, never a failure.

The emulator's `hang` answers normally after its sleep, so the device really did what the
portal no longer waited for; `drop` closes the connection after the request arrived.
"""

from __future__ import annotations

import time

import pytest

from emulator.pytest_plugin import TOKEN_A
from portal.iot import IoTClient, OutcomeUnknown, UpstreamUnavailable

NO_ANSWER = (
    "No answer came from the device service, so it is not known whether this action happened: "
    "check the device before trying again."
)


@pytest.fixture
def client(emulator):
    return IoTClient(TOKEN_A, base_url=emulator.url, timeout=0.5, retries=1)


@pytest.fixture
def uid(emulator):
    return emulator.device_uid(TOKEN_A, "Kitchen Relay")


def posts(emulator, suffix: str) -> list[dict]:
    return [e for e in emulator.request_log if e["method"] != "GET" and e["path"].endswith(suffix)]


def test_a_write_whose_answer_is_late_has_an_unknown_outcome(client, emulator, uid):
    emulator.set_fault("hang", hang_seconds=1.0, path="/reboot$")
    with pytest.raises(OutcomeUnknown) as caught:
        client.reboot(uid)
    assert caught.value.message == NO_ANSWER
    # The upstream did act on it, after the portal stopped waiting.
    deadline = time.monotonic() + 3
    while not posts(emulator, "/reboot") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [e["status"] for e in posts(emulator, "/reboot")] == [200]
    assert emulator.state.device_detail(TOKEN_A, uid)["status"] == "reconnecting"


def test_a_write_whose_connection_drops_has_an_unknown_outcome(client, emulator, uid):
    emulator.set_fault("drop", path="/commands$")
    with pytest.raises(OutcomeUnknown) as caught:
        client.send_command(uid, {"cmd": "x"})
    assert caught.value.message == NO_ANSWER
    assert len(posts(emulator, "/commands")) == 1  # never resent


def test_a_write_whose_answer_trickles_past_the_deadline_has_an_unknown_outcome(
    client, emulator, uid
):
    emulator.set_fault("trickle", size=100, interval=0.05, path=f"/{uid}$")
    started = time.monotonic()
    with pytest.raises(OutcomeUnknown):
        client.update_device(uid, name="Pantry Relay")
    assert time.monotonic() - started < 1.0


def test_a_write_accepted_with_an_unreadable_answer_is_not_called_failed(client, emulator, uid):
    emulator.set_fault("malformed", path="/wifi-reset$")
    with pytest.raises(OutcomeUnknown) as caught:
        client.wifi_reset(uid)
    assert "not known whether this action happened" in caught.value.message


def test_a_write_that_could_not_connect_is_known_not_sent(unused_port_url):
    client = IoTClient(TOKEN_A, base_url=unused_port_url, timeout=0.5)
    with pytest.raises(UpstreamUnavailable) as caught:
        client.reboot("espressif8266_abc")
    assert not isinstance(caught.value, OutcomeUnknown)
    assert caught.value.message == "The device service could not be reached."


def test_a_refused_write_is_still_refused(client, emulator, uid):
    emulator.set_fault("500", path="/reboot$")
    with pytest.raises(UpstreamUnavailable) as caught:
        client.reboot(uid)
    assert not isinstance(caught.value, OutcomeUnknown)


def test_a_read_whose_answer_is_late_is_unavailable_not_unknown(client, emulator, uid):
    emulator.set_fault("hang", hang_seconds=1.0)
    with pytest.raises(UpstreamUnavailable) as caught:
        client.get_device(uid)
    assert not isinstance(caught.value, OutcomeUnknown)
    assert caught.value.message == "The device service did not answer within 0.5 s."
