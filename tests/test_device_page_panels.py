"""A device's page draws its panels in place from reads made beside its own, each independent."""

from __future__ import annotations

import logging
import time

import pytest
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from portal.iot import known
from tests.devices_helpers import HTMX, uid_of, upstream_calls

LATENCY_MS = 400


def _page(client, emulator, name: str = "Kitchen Relay") -> tuple[str, str]:
    """The device's page, come to from the device list (so the portal knows the uid)."""
    uid = uid_of(emulator, name)
    assert client.get(reverse("devices:list")).status_code == 200
    emulator.clear_log()
    response = client.get(reverse("devices:detail", args=[uid]))
    assert response.status_code == 200
    return uid, response.content.decode()


def _inline(body: str, panel: str) -> bool:
    """Whether the panel is drawn in the page (not its placeholder, which loads it after)."""
    start = body.index(f'id="{panel}"')
    tag = body[body.rindex("<section", 0, start) : body.index(">", start)]
    return "panel-placeholder" not in tag


def test_it_draws_every_panel_in_place_from_reads_made_at_the_same_time(as_maintainer, emulator):
    emulator.set_latency(LATENCY_MS)
    uid, body = _page(as_maintainer, emulator)
    for panel in ("commands-panel", "buttons-panel", "firmware-panel"):
        assert _inline(body, panel), panel
    assert 'hx-trigger="load"' not in body  # nothing is left to load after the page
    reads = upstream_calls(emulator, "GET")
    assert sorted(e["path"] for e in reads) == sorted(
        f"/v1/user/devices/{uid}{tail}" for tail in ("", "/command-buttons", "/firmwares")
    )  # the detail once: the firmware panel does not read it again
    arrivals = [e["at"] for e in reads]
    # All three reached the upstream before the first could have been answered.
    assert max(arrivals) - min(arrivals) < LATENCY_MS / 1000 / 2


def test_the_panels_drawn_in_place_carry_the_device_name_and_their_controls(
    as_maintainer, emulator
):
    _uid, body = _page(as_maintainer, emulator)
    assert 'id="command-form"' in body and 'id="button-form"' in body
    assert 'name="device_name" value="Kitchen Relay"' in body
    assert "firmware-panel" in body and 'id="fw-device"' in body


def test_a_panel_whose_read_fails_shows_its_own_error_and_the_page_carries_on(as_viewer, emulator):
    emulator.set_fault("500", path="/command-buttons$")
    _uid, body = _page(as_viewer, emulator)
    assert "The command buttons could not be loaded." in body
    assert _inline(body, "commands-panel") and _inline(body, "firmware-panel")
    assert "Kitchen Relay" in body and ">Online<" in body


def test_a_slow_panel_is_left_to_load_on_its_own_after_the_page(as_viewer, emulator, settings):
    settings.PORTAL_PANEL_WAIT_SECONDS = 0.1
    emulator.set_fault("hang", path="/firmwares$", count=1, hang_seconds=3)
    uid, body = _page(as_viewer, emulator)
    assert not _inline(body, "firmware-panel")
    assert f'hx-get="{reverse("firmware:panel", args=[uid])}"' in body
    assert f'href="{reverse("firmware:panel", args=[uid])}">Open the firmware</a>' in body
    assert _inline(body, "commands-panel") and _inline(body, "buttons-panel")
    emulator.clear_faults()  # and wakes the hanging read
    # Its own request then draws it, as before.
    panel = as_viewer.get(reverse("firmware:panel", args=[uid]), headers=HTMX)
    assert panel.status_code == 200 and 'id="fw-device"' in panel.content.decode()


def test_a_panel_that_cannot_be_drawn_is_left_to_load_on_its_own(as_viewer, emulator, monkeypatch):
    from devices import buttons

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the panel")

    monkeypatch.setattr(buttons, "panel_context", broken)
    uid, body = _page(as_viewer, emulator)
    assert not _inline(body, "buttons-panel")
    assert f'hx-get="{reverse("devices:buttons", args=[uid])}' in body
    assert _inline(body, "commands-panel") and _inline(body, "firmware-panel")


def test_a_page_whose_detail_fails_shows_its_error_and_no_panel(as_viewer, emulator):
    emulator.set_fault("500", path=r"/devices/[^/]+$")
    _uid, body = _page(as_viewer, emulator)
    assert "This device could not be loaded." in body
    assert 'id="buttons-panel"' not in body and 'id="firmware-panel"' not in body


def test_the_live_refresh_reads_only_the_detail(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    headers = {**HTMX, "HX-Target": "device-live"}
    as_viewer.get(reverse("devices:detail", args=[uid]), headers=headers)
    assert [e["path"] for e in upstream_calls(emulator)] == [f"/v1/user/devices/{uid}"]


def test_the_firmware_panel_on_its_own_makes_its_two_reads_at_the_same_time(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    as_viewer.get(reverse("devices:list"))
    emulator.set_latency(LATENCY_MS)
    emulator.clear_log()
    response = as_viewer.get(reverse("firmware:panel", args=[uid]), headers=HTMX)
    assert response.status_code == 200
    reads = upstream_calls(emulator, "GET")
    assert len(reads) == 2
    assert abs(reads[0]["at"] - reads[1]["at"]) < LATENCY_MS / 1000 / 2


@pytest.mark.parametrize("fault_path", ["/firmwares$", r"/devices/[^/]+$"])
def test_the_firmware_panel_on_its_own_shows_either_reads_failure(as_viewer, emulator, fault_path):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.set_fault("500", path=fault_path)
    response = as_viewer.get(reverse("firmware:panel", args=[uid]), headers=HTMX)
    assert response.status_code == 200
    assert "The device service failed (HTTP 500)." in response.content.decode()


def test_no_token_in_the_page_or_in_the_reads_log_lines(as_viewer, emulator, caplog):
    as_viewer.get(reverse("devices:list"))  # the uid known: the panels are read in the pool
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    body = as_viewer.get(reverse("devices:detail", args=[uid_of(emulator, "Kitchen Relay")]))
    body = body.content.decode()
    assert TOKEN_A not in body
    lines = [record.getMessage() + repr(vars(record)) for record in caplog.records]
    assert lines and not any(TOKEN_A in line for line in lines)
    # The pool's log lines belong to the page's request.
    ids = {getattr(r, "request_id", None) for r in caplog.records if r.name == "portal.iot"}
    assert len(ids) == 1 and None not in ids


def test_a_uid_the_token_does_not_have_costs_one_read_and_no_panel_reads(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    as_viewer.get(reverse("devices:list"))  # the portal knows the token's devices
    other = "dev_" + "0" * 12
    assert other != uid
    emulator.clear_log()
    assert as_viewer.get(reverse("devices:detail", args=[other])).status_code == 404
    assert [e["path"] for e in upstream_calls(emulator)] == [f"/v1/user/devices/{other}"]
    # Nor when the portal has not read the list yet.
    known.clear()
    emulator.clear_log()
    assert as_viewer.get(reverse("devices:detail", args=[other])).status_code == 404
    assert [e["path"] for e in upstream_calls(emulator)] == [f"/v1/user/devices/{other}"]


def test_a_device_not_known_yet_has_its_panels_read_after_its_detail_and_drawn(as_viewer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.set_latency(100)
    emulator.clear_log()
    body = as_viewer.get(reverse("devices:detail", args=[uid])).content.decode()
    for panel in ("commands-panel", "buttons-panel", "firmware-panel"):
        assert _inline(body, panel), panel
    detail, *panel_reads = upstream_calls(emulator, "GET")
    assert detail["path"] == f"/v1/user/devices/{uid}"
    assert sorted(e["path"] for e in panel_reads) == [
        f"/v1/user/devices/{uid}/command-buttons",
        f"/v1/user/devices/{uid}/firmwares",
    ]
    assert all(e["at"] - detail["at"] >= 0.09 for e in panel_reads)  # after its answer
    # From then on the device is known: its next page reads all three at once.
    emulator.clear_log()
    assert as_viewer.get(reverse("devices:detail", args=[uid])).content
    arrivals = [e["at"] for e in upstream_calls(emulator, "GET")]
    assert len(arrivals) == 3 and max(arrivals) - min(arrivals) < 0.05


def test_a_device_removed_upstream_is_forgotten_after_it_is_found_gone(as_viewer, viewer, emulator):
    gone = "dev_" + "0" * 12  # listed once, not there any more
    token_id = viewer.portal_profile.token.pk
    known.listed(token_id, [gone])
    # Its page was sent as a known device's (portal/streaming.py): it says "no such device".
    first = as_viewer.get(reverse("devices:detail", args=[gone]))
    body = first.content.decode()
    assert "<title>No such device" in body and f"There is no device <code>{gone}</code>" in body
    assert not known.has(token_id, gone)
    # The panel reads that page started beside its detail may still be arriving: let them
    # land before the log is cleared, so the next page's log is its own.
    deadline = time.monotonic() + 5
    while len(upstream_calls(emulator)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    emulator.clear_log()
    assert as_viewer.get(reverse("devices:detail", args=[gone])).status_code == 404
    assert [e["path"] for e in upstream_calls(emulator)] == [f"/v1/user/devices/{gone}"]


def test_the_firmware_panel_on_its_own_reads_no_list_for_a_uid_the_token_does_not_have(
    as_viewer, emulator
):
    other = "dev_" + "0" * 12
    emulator.clear_log()
    response = as_viewer.get(reverse("firmware:panel", args=[other]), headers=HTMX)
    assert response.status_code == 404
    assert [e["path"] for e in upstream_calls(emulator)] == [f"/v1/user/devices/{other}"]
