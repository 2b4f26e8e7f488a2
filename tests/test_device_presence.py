"""Online, one rule: the upstream's `is_online` where an answer has it, else a fresh `last_seen_at`
labelled "Seen recently"; never the status word. The table, its filter and sort, and the
detail page all follow it (portal/presence.py)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from portal.presence import presence
from tests.devices_helpers import HTMX, uid_of

LIST = reverse("devices:list")
JSON = {"Content-Type": "application/json"}
ODD_STATUSES = ["pending", "active", "ok", 3, None]


def ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()


def compact(uid: str, name: str, status: object, last_seen_at: str | None, **extra) -> dict:
    """A device exactly as the reference's compact list has it (no is_online, no firmware)."""
    return {
        "uid": uid,
        "name": name,
        "status": status,
        "last_seen_at": last_seen_at,
        "platform": {"id": 2, "name": "ESP8266", "key": "espressif8266"},
        "board": {"id": 6, "name": "ESP-07S", "key": "esp07s"},
        "board_variant": None,
        **extra,
    }


def serve_list(emulator, devices: list[dict]) -> None:
    body = json.dumps({"data": devices}).encode()
    emulator.set_fault("raw", path=r"/v1/user/devices$", status=200, headers=JSON, body=body)


def row_of(body: str, name: str) -> str:
    match = re.search(rf"<tr>(?:(?!</tr>).)*>{re.escape(name)}</a>.*?</tr>", body, re.S)
    assert match, f"no row for {name}"
    return match.group(0)


def online_cell(row: str) -> str:
    cell = re.search(r'<td data-label="Online">(.*?)</td>', row, re.S).group(1)
    return re.sub(r"<[^>]+>", "", cell)


def names_in(body: str) -> list[str]:
    return re.findall(r'<a id="device-[^"]+" href="[^"]+"(?: title="[^"]*")?>([^<]+)</a>', body)


# --- the rule ------------------------------------------------------------------------------


def test_the_flag_wins_over_the_last_seen_time_and_says_where_it_comes_from():
    stale = ago(86400)
    assert presence(True, stale).online is True
    assert presence(True, stale).label == "Online"
    assert presence(False, ago(1)).label == "Offline"
    assert "reports it offline" in presence(False, ago(1)).title


def test_without_the_flag_a_fresh_last_seen_reads_seen_recently(settings):
    settings.PORTAL_ONLINE_WINDOW_SECONDS = 300
    fresh, stale = presence(None, ago(30)), presence(None, ago(301))
    assert (fresh.online, fresh.label) == (True, "Seen recently")
    assert (stale.online, stale.label) == (False, "Not seen recently")
    assert "less than 5 minutes ago" in fresh.title and "more than 5 minutes ago" in stale.title
    assert "does not say whether a device is online" in fresh.title
    never = presence(None, None)
    assert (never.online, never.label, never.title) == (
        False,
        "Not seen recently",
        "Never seen by the device service.",
    )


@pytest.mark.parametrize("flag", ["true", 1, "online", [True]])
def test_a_flag_that_is_not_a_boolean_is_not_believed(flag):
    assert presence(flag, None).label == "Not seen recently"
    assert presence(flag, ago(5)).label == "Seen recently"


def test_the_window_is_a_setting(settings):
    settings.PORTAL_ONLINE_WINDOW_SECONDS = 10
    assert presence(None, ago(60)).label == "Not seen recently"
    settings.PORTAL_ONLINE_WINDOW_SECONDS = 3600
    assert presence(None, ago(60)).label == "Seen recently"
    assert "less than 1 hour ago" in presence(None, ago(60)).title


# --- the table -----------------------------------------------------------------------------


def test_the_table_says_seen_recently_from_the_emulators_plain_list(as_viewer, emulator):
    body = as_viewer.get(LIST).content.decode()
    assert online_cell(row_of(body, "Greenhouse Sensor")) == "Seen recently"
    assert online_cell(row_of(body, "Front Porch Light")) == "Not seen recently"  # 3 days ago
    assert online_cell(row_of(body, "Workshop Dust Collector")) == "Not seen recently"  # never
    assert "Last seen " in row_of(body, "Greenhouse Sensor")  # the time on hover


@pytest.mark.parametrize("status", ODD_STATUSES)
def test_any_status_word_of_a_device_seen_just_now_reads_seen_recently(as_viewer, emulator, status):
    uid = uid_of(emulator, "Kitchen Relay")
    serve_list(emulator, [compact(uid, "Kitchen Relay", status, ago(2))])
    body = as_viewer.get(LIST).content.decode()
    row = row_of(body, "Kitchen Relay")
    assert online_cell(row) == "Seen recently"
    word = "—" if status is None else f'<span class="status">{status}</span>'
    assert f'<td data-label="Status">{word}</td>' in row  # the upstream's word, as it is
    assert names_in(as_viewer.get(LIST, {"online": "yes"}).content.decode()) == ["Kitchen Relay"]
    assert names_in(as_viewer.get(LIST, {"online": "no"}).content.decode()) == []


@pytest.mark.parametrize("status", ["online", "pending", "active"])
def test_a_status_word_never_makes_a_device_seen_long_ago_online(as_viewer, emulator, status):
    uid = uid_of(emulator, "Kitchen Relay")
    serve_list(emulator, [compact(uid, "Kitchen Relay", status, ago(7200))])
    body = as_viewer.get(LIST).content.decode()
    assert online_cell(row_of(body, "Kitchen Relay")) == "Not seen recently"
    assert names_in(as_viewer.get(LIST, {"online": "yes"}).content.decode()) == []


def test_the_emulators_own_words_follow_is_online_not_the_word(as_viewer, emulator):
    relay, porch = uid_of(emulator, "Kitchen Relay"), uid_of(emulator, "Front Porch Light")
    emulator.set_device(TOKEN_A, relay, status="active", is_online=True)
    emulator.set_device(TOKEN_A, porch, status="ok", is_online=False)
    body = as_viewer.get(LIST, {"q": "Kitchen Relay"}).content.decode()
    assert online_cell(row_of(body, "Kitchen Relay")) == "Seen recently"
    found = names_in(as_viewer.get(LIST, {"online": "yes", "status": "active"}).content.decode())
    assert found == ["Kitchen Relay"]
    assert names_in(as_viewer.get(LIST, {"online": "yes", "status": "ok"}).content.decode()) == []


def test_sorting_by_online_puts_the_devices_seen_recently_first(as_viewer, emulator):
    uids = emulator.uids(TOKEN_A)
    serve_list(
        emulator,
        [
            compact(uids[0], "A stale", "online", ago(9000)),
            compact(uids[1], "B fresh", "pending", ago(3)),
            compact(uids[2], "C never", "ok", None),
            compact(uids[3], "D fresh", 7, ago(10)),
        ],
    )
    body = as_viewer.get(LIST, {"sort": "online"}).content.decode()
    assert names_in(body) == ["B fresh", "D fresh", "A stale", "C never"]


def test_the_status_filter_offers_the_upstreams_own_words(as_viewer, emulator):
    uids = emulator.uids(TOKEN_A)
    serve_list(
        emulator,
        [compact(uids[0], "One", "active", None), compact(uids[1], "Two", "pending", None)],
    )
    body = as_viewer.get(LIST).content.decode()
    assert '<option value="active">active</option>' in body
    assert '<option value="pending">pending</option>' in body
    assert "status-" not in body  # no colour chosen from what the word might mean


# --- the table and the detail page agree --------------------------------------------------


def test_table_and_detail_agree_when_the_flag_says_offline_and_the_word_online(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    fresh = ago(1)
    serve_list(emulator, [compact(uid, "Kitchen Relay", "online", fresh, is_online=False)])
    detail = {**compact(uid, "Kitchen Relay", "online", fresh), "is_online": False}
    emulator.set_fault(
        "raw",
        path=rf"/v1/user/devices/{uid}$",
        status=200,
        headers=JSON,
        body=json.dumps({"data": detail}).encode(),
    )
    table = as_viewer.get(LIST).content.decode()
    page = as_viewer.get(reverse("devices:detail", args=[uid])).content.decode()
    assert online_cell(row_of(table, "Kitchen Relay")) == "Offline"
    assert re.search(r"<dt>Online</dt><dd><span class=\"offline\"[^>]*>Offline</span>", page)
    assert names_in(as_viewer.get(LIST, {"online": "yes"}).content.decode()) == []


def test_the_detail_page_believes_is_online_not_the_status_word(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.set_device(TOKEN_A, uid, status="online", is_online=False)
    page = as_viewer.get(reverse("devices:detail", args=[uid])).content.decode()
    assert ">Offline</span>" in page and ">Online</span>" not in page
    live = as_viewer.get(
        reverse("devices:detail", args=[uid]), headers={**HTMX, "HX-Target": "device-live"}
    ).content.decode()
    assert ">Offline</span>" in live


def test_a_detail_without_the_flag_reads_its_last_seen_time(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    detail = compact(uid, "Kitchen Relay", "online", ago(4000))  # no is_online
    emulator.set_fault(
        "raw",
        path=rf"/v1/user/devices/{uid}$",
        status=200,
        headers=JSON,
        body=json.dumps({"data": detail}).encode(),
    )
    page = as_viewer.get(reverse("devices:detail", args=[uid])).content.decode()
    assert ">Not seen recently</span>" in page
