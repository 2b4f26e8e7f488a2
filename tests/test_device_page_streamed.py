"""A known device's page leaves in two parts: its head before the reads answer, then the rest.

portal/streaming.py says why and what has to happen before the headers leave; each test here
guards one of those rules.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.template.loader import render_to_string
from django.urls import reverse

from portal import streaming
from tests.devices_helpers import uid_of

LATENCY_MS = 500


def _known(client, emulator, name: str = "Kitchen Relay") -> str:
    """A device the portal has seen in the list, so its page is streamed."""
    assert client.get(reverse("devices:list")).status_code == 200
    return uid_of(emulator, name)


def _answered(caplog, endpoint: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "upstream_endpoint", "") == endpoint]


def test_the_head_leaves_before_the_upstream_has_answered_and_the_rest_after(
    as_viewer, emulator, caplog
):
    uid = _known(as_viewer, emulator)
    emulator.set_latency(LATENCY_MS)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="portal.iot"):
        response = as_viewer.get(reverse("devices:detail", args=[uid]))
        assert response.status_code == 200 and response.streaming
        assert response["X-Accel-Buffering"] == "no"  # a proxy passes the head on at once
        parts = iter(response.streaming_content)
        head = next(parts).decode()
        assert not _answered(caplog, "devices.detail")  # sent while the read was out
        rest = b"".join(parts).decode()
    assert _answered(caplog, "devices.detail")
    assert head.startswith("<!doctype html>") and "devices/devices." in head
    assert "<title>" not in head and "Kitchen Relay" not in head  # nothing of the device
    assert rest.lstrip().startswith("<title>Kitchen Relay · Devices")
    assert rest.rstrip().endswith("</html>") and 'id="firmware-panel"' in rest


def test_a_streamed_page_is_the_same_document_as_the_page_drawn_whole(
    as_viewer, emulator, monkeypatch
):
    from portal.iot import known

    uid = _known(as_viewer, emulator)
    streamed = as_viewer.get(reverse("devices:detail", args=[uid]))
    known.clear()  # the page drawn at once, as for a device not seen yet
    whole = as_viewer.get(reverse("devices:detail", args=[uid]))
    assert streamed.streaming and not whole.streaming

    def shape(page: str) -> list[str]:
        # Each request has its own CSRF token, nonce and form keys: compare the rest.
        import re

        page = re.sub(r'(nonce|value)="[^"]*"', r'\1=""', page)
        page = re.sub(r'"X-CSRFToken": "[^"]*"', "", page)
        return [line.strip() for line in page.splitlines() if line.strip()]

    assert shape(streamed.content.decode()) == shape(whole.content.decode())


def test_an_upstream_error_is_drawn_in_the_streamed_page_without_a_500(as_viewer, emulator):
    uid = _known(as_viewer, emulator)
    emulator.set_fault("500", path=f"/devices/{uid}$")
    response = as_viewer.get(reverse("devices:detail", args=[uid]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "This device could not be loaded." in body and "Try again" in body
    assert body.count("<html") == 1 and body.rstrip().endswith("</html>")


def test_its_messages_are_shown_once_and_cleared(as_operator, emulator):
    uid = _known(as_operator, emulator)
    # A rename without JavaScript says what it did on the device's page it goes back to.
    response = as_operator.post(reverse("devices:rename", args=[uid]), {"name": "Pantry Relay"})
    assert response.status_code == 302
    first = as_operator.get(response["Location"])
    assert first.streaming and "Kitchen Relay renamed to Pantry Relay." in first.content.decode()
    again = as_operator.get(response["Location"]).content.decode()
    assert "renamed to" not in again


def test_its_csrf_cookie_leaves_with_its_headers(as_viewer, emulator):
    uid = _known(as_viewer, emulator)
    as_viewer.cookies.pop("csrftoken", None)
    response = as_viewer.get(reverse("devices:detail", args=[uid]))
    assert response.streaming and "csrftoken" in response.cookies
    body = response.content.decode()
    assert 'X-CSRFToken": "' in body


def test_the_rest_is_drawn_in_the_requests_context_so_its_log_lines_carry_its_id(
    as_viewer, emulator, caplog
):
    uid = _known(as_viewer, emulator)
    with caplog.at_level(logging.INFO, logger="portal.iot"):
        response = as_viewer.get(reverse("devices:detail", args=[uid]), HTTP_X_REQUEST_ID="r-42")
        assert response.content
    detail = _answered(caplog, "devices.detail")
    assert detail and all(r.request_id == "r-42" for r in detail)


def test_the_request_is_logged_when_the_whole_page_has_left(as_viewer, emulator, caplog):
    uid = _known(as_viewer, emulator)
    emulator.set_latency(200)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="portal.request"):
        response = as_viewer.get(reverse("devices:detail", args=[uid]))
        assert not [r for r in caplog.records if r.name == "portal.request"]
        assert response.content
    (line,) = [r for r in caplog.records if r.name == "portal.request"]
    assert line.status == 200 and line.duration_ms >= 200  # the reads' time is in it


def _request(rf, user):
    request = rf.get("/devices/x/")
    request.user = user
    request.session = {}
    request._messages = messages.storage.default_storage(request)
    return request


def test_a_page_whose_rest_fails_to_draw_ends_with_the_portals_message(rf, caplog, admin_user):
    request = _request(rf, admin_user)

    def broken() -> list[str]:
        raise RuntimeError("a bug")

    page = streaming.page(request, ("base.html#document_start",), broken)
    with caplog.at_level(logging.ERROR, logger="portal.request"):
        body = page.content.decode()
    assert body.startswith(render_to_string("base.html#document_start", request=request)[:40])
    assert "This page could not be drawn." in body and body.rstrip().endswith("</html>")
    assert "could not be drawn" in caplog.text and "RuntimeError" in caplog.text


def test_a_page_that_does_not_begin_with_its_head_is_ended_rather_than_drawn_twice(
    rf, caplog, admin_user
):
    request = _request(rf, admin_user)
    page = streaming.page(
        request,
        ("devices/detail.html#assets",),
        lambda: [render_to_string("404.html", request=request)],
    )
    with caplog.at_level(logging.ERROR, logger="portal.request"):
        body = page.content.decode()
    assert body.count("<!doctype html>") == 0 and "This page could not be drawn." in body
    assert "does not begin with its head" in caplog.text


def test_a_page_that_fails_within_its_body_ends_there_with_the_message(rf, caplog, admin_user):
    request = _request(rf, admin_user)
    head = render_to_string("base.html#document_start", request=request)

    def rest():
        yield head + "<title>A page</title></head><body><main><p>The top.</p>"
        raise RuntimeError("a bug in the panels")

    page = streaming.page(request, ("base.html#document_start",), rest)
    with caplog.at_level(logging.ERROR, logger="portal.request"):
        body = page.content.decode()
    assert "<p>The top.</p>" in body and body.count("<title>") == 1
    assert body.endswith(streaming.FAILED_WITHIN) and "This page could not be drawn." in body
    assert "a bug in the panels" in caplog.text


def test_the_top_of_a_devices_page_leaves_before_its_panels_are_drawn(
    as_viewer, emulator, monkeypatch
):
    from devices import panels

    uid = _known(as_viewer, emulator)
    drawing = []
    real = panels.draw
    monkeypatch.setattr(panels, "draw", lambda *a, **k: drawing.append(1) or real(*a, **k))
    parts = iter(as_viewer.get(reverse("devices:detail", args=[uid])).streaming_content)
    text = ""
    while 'id="device-title"' not in text:
        text += next(parts).decode()
    assert "About this device" in text and not drawing  # the top, and no panel drawn yet
    rest = b"".join(parts).decode()
    assert drawing and rest.lstrip().startswith('<div class="panels">')
    assert 'id="firmware-panel"' in rest and rest.rstrip().endswith("</html>")


def test_its_detail_read_on_the_pool_is_shared_through_the_read_cache_until_a_write(
    as_operator, emulator, settings
):
    from tests.devices_helpers import upstream_calls

    settings.PORTAL_READ_CACHE_SECONDS = 30
    uid = _known(as_operator, emulator)
    detail = f"/v1/user/devices/{uid}"

    def detail_reads() -> int:
        return sum(1 for e in upstream_calls(emulator, "GET") if e["path"] == detail)

    emulator.clear_log()
    assert as_operator.get(reverse("devices:detail", args=[uid])).content
    assert as_operator.get(reverse("devices:detail", args=[uid])).content
    assert detail_reads() == 1  # the second page's detail came from the cache
    # A write replaces the token's generation (kept in the database here): read again.
    as_operator.post(reverse("devices:rename", args=[uid]), {"name": "Pantry Relay"})
    emulator.clear_log()
    page = as_operator.get(reverse("devices:detail", args=[uid])).content.decode()
    assert detail_reads() == 1 and "<title>Pantry Relay · Devices" in page
