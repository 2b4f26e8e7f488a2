"""Path segments from users and URLs never reach another upstream path."""

from __future__ import annotations

import io

import pytest

from emulator.pytest_plugin import TOKEN_A
from portal.iot import InvalidIdentifier, IoTClient

BAD = ["../x", "a/b", "%2F", "a%2Fb", "with space", "", "x" * 300, "déjà", "?q=1", "#frag", ".."]


@pytest.fixture
def client(emulator):
    emulator.clear_log()
    return IoTClient(TOKEN_A, base_url=emulator.url, timeout=1.0)


CALLS = {
    "get_device": lambda c, bad: c.get_device(bad),
    "update_device": lambda c, bad: c.update_device(bad, name="x"),
    "reboot": lambda c, bad: c.reboot(bad),
    "wifi_reset": lambda c, bad: c.wifi_reset(bad),
    "trigger_ota": lambda c, bad: c.trigger_ota(bad),
    "send_command": lambda c, bad: c.send_command(bad, {"cmd": "x"}),
    "list_buttons": lambda c, bad: c.list_buttons(bad),
    "create_button": lambda c, bad: c.create_button(bad, {"id": "a"}),
    "delete_button (uid)": lambda c, bad: c.delete_button(bad, "ok"),
    "delete_button (id)": lambda c, bad: c.delete_button("espressif32_abc", bad),
    "send_button (id)": lambda c, bad: c.send_button("espressif32_abc", bad),
    "list_firmwares": lambda c, bad: c.list_firmwares(bad),
    "upload_firmware": lambda c, bad: c.upload_firmware(bad, name="x", file=io.BytesIO(b"x")),
    "update_firmware (id)": lambda c, bad: c.update_firmware("espressif32_abc", bad, name="x"),
    "delete_firmware (id)": lambda c, bad: c.delete_firmware("espressif32_abc", bad),
    "set_target (md5)": lambda c, bad: c.set_target("espressif32_abc", bad),
}


@pytest.mark.parametrize("bad", BAD, ids=repr)
@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_it_refuses_a_bad_segment_without_any_request(client, emulator, call, bad):
    with pytest.raises(InvalidIdentifier):
        call(client, bad)
    assert emulator.request_log == []
