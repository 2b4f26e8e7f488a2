"""The device list page: the fleet table, its states, and upstream failures in its frame."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.devices_helpers import uid_of

URL = reverse("devices:list")


def test_it_asks_an_anonymous_visitor_to_sign_in(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_shows_the_fleet_with_every_column(as_viewer, emulator):
    response = as_viewer.get(URL)
    body = response.content.decode()
    assert response.status_code == 200
    for heading in ("Name", "UID", "Status", "Online", "Last seen", "Platform", "Board"):
        assert f">{heading}</a>" in body
    assert "espressif8266_" in body and "espressif32_" in body
    assert "ESP8266" in body and "ESP32" in body


def test_it_tells_a_user_without_a_token_what_to_do(client, db):
    from portal.roles import Role
    from tests.conftest import make_user

    client.force_login(make_user("newcomer", Role.VIEWER))
    response = client.get(URL)
    assert response.status_code == 200
    assert "No API token is mapped to your account yet. Ask an admin to assign one." in (
        response.content.decode()
    )


@pytest.mark.parametrize(
    ("fault", "sentence"),
    [
        ("hang", "The device service did not answer within 1 s."),
        ("500", "The device service failed (HTTP 500)."),
        ("malformed", "The device service sent an answer the portal could not read."),
        ("503_html", "The device service failed (HTTP 503)."),
        ("drop", "The device service could not be reached."),
    ],
)
def test_it_keeps_its_frame_when_the_upstream_fails(as_viewer, emulator, fault, sentence):
    emulator.set_fault(fault, hang_seconds=3)
    response = as_viewer.get(URL)
    body = response.content.decode()
    assert response.status_code == 200
    assert "The device list could not be loaded." in body
    assert sentence in body
    assert 'id="device-filters"' in body  # the page frame is intact


def test_it_says_when_the_token_was_rejected(client, db, emulator):
    from portal import services
    from portal.roles import Role
    from tests.conftest import make_user

    bad = services.save_token("Revoked", "revoked-token-0000")
    client.force_login(make_user("someone", Role.VIEWER, bad))
    body = client.get(URL).content.decode()
    assert "Your API token was rejected" in body


def test_it_shows_an_empty_fleet_state(client, db, settings):
    from emulator.server import Emulator
    from portal import services
    from portal.roles import Role
    from tests.conftest import make_user

    with Emulator(tokens=("empty-fleet-token-1",), fleet_size=0) as empty:
        settings.IOT_API_BASE_URL = empty.url
        token = services.save_token("Empty", "empty-fleet-token-1")
        client.force_login(make_user("someone", Role.VIEWER, token))
        body = client.get(URL).content.decode()
    assert "No devices yet." in body


def test_it_shows_a_no_results_state(as_viewer, emulator):
    body = as_viewer.get(URL, {"q": "zzz-no-such-device"}).content.decode()
    assert "No device matches this search." in body


def test_it_answers_htmx_with_only_the_table(as_viewer, emulator):
    response = as_viewer.get(URL, headers={"HX-Request": "true", "HX-Target": "device-table"})
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="device-table"')
    assert "<html" not in body


def test_the_sort_by_menu_sits_in_the_filter_form_and_follows_a_sort_by_heading(
    as_viewer, emulator
):
    page = as_viewer.get(URL, {"sort": "-last_seen"}).content.decode()
    start = page.index('<form id="device-filters"')
    form = page[start : page.index("</form>", start)]
    assert '<select id="id_sort" name="sort">' in form
    assert '<option value="-last_seen" selected>Last seen, most recent first</option>' in form
    assert page.count('name="sort"') == 1
    # A new table (a click on a heading) says its sort, for the menu to follow (devices.js).
    headers = {"HX-Request": "true", "HX-Target": "device-table"}
    body = as_viewer.get(URL, {"sort": "uid", "q": "e"}, headers=headers).content.decode()
    assert body.lstrip().startswith('<section id="device-table"')
    assert 'data-sort="uid">' in body and 'name="sort"' not in body


def test_the_rows_refresh_alone_and_keep_the_query(as_viewer, emulator):
    headers = {"HX-Request": "true", "HX-Target": "device-rows"}
    body = as_viewer.get(URL, {"q": "relay", "sort": "-name"}, headers=headers).content.decode()
    assert body.lstrip().startswith('<tbody id="device-rows"')
    assert 'hx-get="/devices/?q=relay&amp;sort=-name"' in body
    assert 'hx-trigger="every 15s"' in body
    assert "device-filters" not in body and "<thead>" not in body
    assert "Kitchen Relay" in body and "Garage Door" not in body


def test_a_failed_refresh_keeps_the_rows_it_has(as_viewer, emulator):
    emulator.set_fault("500")
    response = as_viewer.get(URL, headers={"HX-Request": "true", "HX-Target": "device-rows"})
    assert response.status_code == 204


def test_refresh_can_be_turned_off(as_viewer, emulator, settings):
    uid = uid_of(emulator, "Kitchen Relay")
    detail = reverse("devices:detail", args=[uid])
    # The setting drives the interval: another value shows up in the table and the detail page.
    settings.PORTAL_REFRESH_SECONDS = 7
    for page in (as_viewer.get(URL).content.decode(), as_viewer.get(detail).content.decode()):
        assert page.count('hx-trigger="every 7s"') == 1 and page.count("data-poll") == 1
    settings.PORTAL_REFRESH_SECONDS = 0
    table = as_viewer.get(URL).content.decode()
    assert 'id="device-rows"' in table and "Kitchen Relay" in table  # the rows, not polled
    live = as_viewer.get(detail).content.decode()
    assert 'id="device-live"' in live
    for page in (table, live):
        assert 'hx-trigger="every' not in page and "data-poll" not in page


def test_it_pages_a_large_fleet_and_the_pager_keeps_the_query(as_viewer, emulator, settings):
    settings.PORTAL_PAGE_SIZE = 5
    body = as_viewer.get(URL, {"sort": "name", "page": "2"}).content.decode()
    assert "page 2 of 4" in body
    assert body.count('<tr><td data-label="Name">') == 5
    assert 'href="?sort=name&amp;page=3"' in body and 'href="?sort=name&amp;page=1"' in body
    assert 'hx-target="#device-table"' in body


def test_search_and_filters_come_from_the_address_bar(as_viewer, emulator):
    body = as_viewer.get(URL, {"online": "no", "platform": "espressif32"}).content.decode()
    assert "Doorbell Camera Bridge" in body  # offline ESP32
    rows = body[body.index('<tbody id="device-rows"') : body.index("</tbody>")]
    assert '<span class="online">Online</span>' not in rows
    assert '<td data-label="Platform">ESP8266</td>' not in rows
    assert '<option value="no" selected>' in body
    assert '<option value="espressif32" selected>' in body


def test_rows_escape_whatever_the_upstream_sends(as_viewer, emulator):
    from emulator.pytest_plugin import TOKEN_A

    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    emulator.set_device(TOKEN_A, uid, status="offline")
    emulator.set_device(TOKEN_A, uid, name='<img src=x onerror="alert(1)">', last_seen_at=None)
    body = as_viewer.get(URL, {"q": uid}).content.decode()
    assert "<img src=x" not in body
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in body
    assert '<td data-label="Last seen">—</td>' in body


@pytest.mark.parametrize(
    ("query", "changes"),
    [
        ("", {"sort": "name", "page": None}),
        ("q=a+b&sort=-uid&page=3", {"sort": "uid", "page": None}),
        ("status=online&page=2&q=%C3%A9t%C3%A9", {"page": 3}),
        ("tag=x&tag=y&sort=name", {"page": 1}),
    ],
)
def test_its_links_are_what_the_querystring_tag_would_give(query, changes):
    from django.http import QueryDict
    from django.template import RequestContext, Template
    from django.test import RequestFactory

    from devices.listing import querystring

    request = RequestFactory().get(f"/devices/?{query}")
    args = " ".join(
        f"{key}={'None' if value is None else repr(value)}" for key, value in changes.items()
    )
    tag = Template(f"{{% autoescape off %}}{{% querystring {args} %}}{{% endautoescape %}}")
    expected = tag.render(RequestContext(request))
    assert querystring(QueryDict(query), **changes) == expected


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata", "Australia/Lord_Howe"]
)
def test_last_seens_title_is_the_local_time_with_its_zone(zone):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from devices.listing import rows
    from portal.iot import DeviceSummary

    seen = datetime(2026, 7, 1, 12, 30, 5, 250_000, tzinfo=UTC)
    local = seen.astimezone(ZoneInfo(zone))
    with timezone.override(zone):
        (row,) = rows([DeviceSummary("espressif32_abc", last_seen_at=seen.isoformat())])
    assert row.seen_title == local.strftime("%Y-%m-%d %H:%M:%S %Z")
