"""A misbehaving upstream costs a bounded time and memory, and ends as one clear message.

Each case is the emulator over real HTTP: huge bodies, gzip bombs, trickling bodies, `next`
loops, deep nesting, invalid UTF-8 and lone surrogates.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator

import pytest
import requests

from emulator.pytest_plugin import TOKEN_A
from emulator.server import Emulator
from portal.iot import IoTClient, Rejected, UpstreamUnavailable

MiB = 1024 * 1024
LIMIT = 1 * MiB
DEADLINE = 1.0
UNREADABLE = "The device service sent an answer the portal could not read."


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.IOT_API_MAX_BODY_BYTES = LIMIT
    settings.IOT_API_MAX_PAGES = 20


@pytest.fixture
def client(emulator):
    return IoTClient(TOKEN_A, base_url=emulator.url, timeout=DEADLINE, retries=1)


def ends_unusable(call) -> tuple[UpstreamUnavailable, float, int]:
    """The error `call` ends in, how long it took, and the peak of memory it allocated."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(UpstreamUnavailable) as caught:
            call()
        return caught.value, time.monotonic() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def emulator_process() -> Iterator[str]:
    """The emulator in a process of its own, so that memory measured here is the portal's."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--token", TOKEN_A, "--quiet"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().split()[-1]
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def fault_in(url: str, kind: str, size: int) -> None:
    requests.delete(f"{url}/_emulator/faults", timeout=5)
    answer = requests.post(f"{url}/_emulator/faults", json={"kind": kind, "size": size}, timeout=5)
    assert answer.status_code == 201


def list_reads(emulator) -> int:
    return len([e for e in emulator.request_log if e["path"] == "/v1/user/devices"])


@pytest.mark.parametrize(
    ("kind", "size"),
    [("huge", 64 * MiB), ("gzip_bomb", 64 * MiB)],
    ids=["huge", "gzip bomb"],
)
def test_an_answer_over_the_body_limit_ends_in_bounded_time_and_memory(
    emulator_process, kind, size, log_lines
):
    fault_in(emulator_process, kind, size)
    # A roomy deadline: what must stop this answer is the size limit, on a loaded machine too.
    client = IoTClient(TOKEN_A, base_url=emulator_process, timeout=5.0, retries=1)
    error, took, peak = ends_unusable(client.list_devices)
    assert error.message == UNREADABLE
    assert took < 5.0 and peak < 2 * LIMIT
    reads = requests.get(f"{emulator_process}/_emulator/log", timeout=5).json()["data"]
    assert len(reads) == 1  # an answer over the limit is not asked for again
    assert any("body size" in line and "IOT_API_MAX_BODY_BYTES" in line for line in log_lines)
    assert not any("xxxxxxxx" in line for line in log_lines)  # no body in any log line
    requests.delete(f"{emulator_process}/_emulator/log", timeout=5)


def test_a_huge_answer_without_a_length_stops_at_the_limit_too(client, emulator):
    big = b'{"data":[],"pad":"' + b"x" * (8 * MiB) + b'"}'
    emulator.set_fault("raw", body=big, headers={"Content-Type": "application/json"})
    error, took, _ = ends_unusable(lambda: client.get_device(emulator.uids(TOKEN_A)[0]))
    assert error.message == UNREADABLE and took < DEADLINE


def test_a_compressed_answer_under_the_limit_is_read(client, emulator):
    import gzip

    body = json.dumps({"data": {"uid": "u1", "name": "Zipped"}}).encode()
    emulator.set_fault(
        "raw", body=gzip.compress(body), headers={"Content-Encoding": "gzip"}, path="/u1$"
    )
    assert client.get_device("u1")["name"] == "Zipped"


def test_an_encoding_the_portal_did_not_ask_for_is_unusable(client, emulator):
    emulator.set_fault("raw", body=b"\x00\x01\x02", headers={"Content-Encoding": "br"})
    error, _, _ = ends_unusable(client.list_devices)
    assert error.message == UNREADABLE


def test_a_trickling_answer_ends_at_the_deadline(client, emulator):
    emulator.set_fault("trickle", size=200, interval=0.05)  # 10 s in all
    error, took, _ = ends_unusable(client.list_devices)
    assert error.message == "The device service did not answer within 1 s."
    assert DEADLINE <= took < DEADLINE + 0.5


def test_the_pages_of_a_list_share_one_deadline(client, emulator):
    emulator.set_page_size(4)  # 16 devices: 4 pages of 0.4 s each
    emulator.set_latency(400)
    error, took, _ = ends_unusable(client.list_devices)
    assert error.message == "The device service did not answer within 1 s."
    assert took < DEADLINE + 0.5
    assert list_reads(emulator) <= 3


def test_a_next_link_to_the_same_page_ends_the_list_at_once():
    with Emulator(tokens=(TOKEN_A,)) as own:  # its own log: no other test's reads in it
        own.set_fault("next_loop")
        devices = IoTClient(TOKEN_A, base_url=own.url, timeout=DEADLINE).list_devices()
        assert len(devices) == len(own.uids(TOKEN_A))
        assert list_reads(own) == 1


def test_a_list_longer_than_the_page_limit_is_unusable(settings, log_lines):
    settings.IOT_API_MAX_PAGES = 5
    with Emulator(tokens=(TOKEN_A,), page_size=1) as own:
        client = IoTClient(TOKEN_A, base_url=own.url, timeout=DEADLINE)
        error, _, _ = ends_unusable(client.list_devices)
        assert error.message == UNREADABLE
        assert list_reads(own) == 5
    assert any("IOT_API_MAX_PAGES=5" in line for line in log_lines)


def test_deep_json_is_unusable_not_a_crash(client, emulator):
    emulator.set_fault("deep", size=200_000)
    error, took, _ = ends_unusable(client.list_devices)
    assert error.message == UNREADABLE and took < DEADLINE
    error, _, _ = ends_unusable(lambda: client.get_device(emulator.uids(TOKEN_A)[0]))
    assert error.message == UNREADABLE


def test_invalid_utf8_and_lone_surrogates_become_replacement_characters(client, emulator):
    uid = emulator.uids(TOKEN_A)[0]
    body = (
        b'{"data": {"uid": "' + uid.encode() + b'", "name": "Bad \xff byte",'
        b' "description": "lone \\ud800 here", "\\udc00key": ["\\ud83d\\ude00", "\\udfff"]}}'
    )
    emulator.set_fault("raw", body=body, headers={"Content-Type": "application/json"})
    device = client.get_device(uid)
    assert device["name"] == "Bad \ufffd byte"
    assert device["description"] == "lone \ufffd here"
    assert device["\ufffdkey"] == ["\U0001f600", "\ufffd"]  # a real pair is kept
    json.dumps(device, ensure_ascii=False).encode()  # every string encodes


def test_a_button_named_with_a_lone_surrogate_still_lists(client, emulator):
    uid = emulator.uids(TOKEN_A)[0]
    body = b'{"data": [{"id": "b1", "label": "On \\ud800", "payload": {}, "confirm": false}]}'
    emulator.set_fault("raw", body=body, headers={"Content-Type": "application/json"})
    (button,) = client.list_buttons(uid)
    assert button["label"] == "On \ufffd"


def test_a_device_list_with_invalid_utf8_keeps_every_device(client, emulator):
    body = (
        b'{"data": [{"uid": "u1", "name": "Caf\xe9", "status": "online"},'
        b' {"uid": "u2", "name": "ok \\udbff"}]}'
    )
    emulator.set_fault("raw", body=body, headers={"Content-Type": "application/json"})
    names = [d.name for d in client.list_devices()]
    assert names == ["Caf\ufffd", "ok \ufffd"]


def test_a_next_link_to_another_server_is_never_followed(client, emulator):
    with Emulator(tokens=(TOKEN_A,)) as elsewhere:
        page = {"data": [], "links": {"next": f"{elsewhere.url}/v1/user/devices?page=2"}}
        emulator.set_fault("raw", body=json.dumps(page).encode())
        with pytest.raises(UpstreamUnavailable) as caught:
            client.list_devices()
        assert caught.value.message == "The device service sent a link to another site."
        assert elsewhere.request_log == []  # no request, so no token, reached it


def test_a_next_link_to_another_port_of_the_same_host_is_never_followed(client, emulator):
    with Emulator(tokens=(TOKEN_A,), host="127.0.0.1") as elsewhere:
        port = elsewhere.url.rsplit(":", 1)[1]
        page = {"data": [], "links": {"next": f"http://127.0.0.1:{port}/v1/user/devices"}}
        emulator.set_fault("raw", body=json.dumps(page).encode())
        with pytest.raises(UpstreamUnavailable):
            client.list_devices()
        assert elsewhere.request_log == []


@pytest.mark.parametrize(
    "link",
    [
        "/v1/user/devices/espressif32_x/reboot",
        "/_emulator/log",
        "/v1/user/devices/../devices/x/reboot",
        "/v1/user/devices/%2e%2e/x",
        "reboot",
    ],
)
def test_a_next_link_to_another_path_of_the_upstream_is_never_followed(client, emulator, link):
    page = {"data": [{"uid": "espressif32_a", "name": "A"}], "links": {"next": link}}
    emulator.set_fault("raw", count=1, body=json.dumps(page).encode())
    emulator.clear_log()
    with pytest.raises(UpstreamUnavailable) as caught:
        client.list_devices()
    assert caught.value.message == "The device service sent a link to another part of its API."
    assert [entry["path"] for entry in emulator.request_log] == ["/v1/user/devices"]


def test_a_relative_next_link_is_read_against_the_page_it_came_from(client, emulator):
    page = {"data": [{"uid": "espressif32_a", "name": "A"}], "links": {"next": "?page=2"}}
    emulator.set_fault("raw", count=1, body=json.dumps(page).encode())
    emulator.clear_log()
    devices = client.list_devices()
    assert devices[0].uid == "espressif32_a" and len(devices) > 1  # page 2: the real list
    second = emulator.request_log[1]
    assert (second["path"], second["query"]) == ("/v1/user/devices", "page=2")


def test_an_upstream_message_is_kept_to_five_hundred_characters_without_nul(client, emulator):
    body = {"message": "x\u0000" + "r" * 100_000, "errors": {"name": ["y" * 2_000, 7]}}
    emulator.set_fault("raw", status=409, body=json.dumps(body).encode())
    with pytest.raises(Rejected) as caught:
        client.list_devices()
    message = caught.value.message
    assert len(message) == 500 and message.startswith("x\ufffdrrr") and message.endswith("…")
    assert caught.value.errors == {"name": ["y" * 499 + "…"]}  # a number is no message
