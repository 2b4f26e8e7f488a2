"""A device page's panels (tags, commands, command buttons, firmware), drawn with the page itself.

Loaded one after the other (the page, then the browser's start-up, then each panel's own
request and reads) a device's page took about six upstream round trips to show everything.
Now the page starts its panels' reads on the read pool (portal/iot/parallel.py) before it
makes its own, so all of them overlap, and draws each panel in place when its reads are done
by a short time after the page's own (`PORTAL_PANEL_WAIT_SECONDS`).

Each panel stays independent of the page and of the others:

- a panel whose reads are not done in time is left as its placeholder, which loads it on
  its own after the page (htmx), as before, and links to it without JavaScript; its read is
  cancelled if it has not started;
- a panel whose read failed is drawn with its own error, as its own request would have;
- a panel that fails to draw at all (a bug) is logged and left as its placeholder too, so it
  never takes the page down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from devices import actions, buttons
from firmware import views as firmware_views
from fleet import tag_views
from portal import display, storable
from portal.iot import IoTClient, parallel

logger = logging.getLogger("portal.devices")

PANELS = ("tags", "commands", "buttons", "firmware")


def start(client: IoTClient, uid: str, *, detail: bool = False) -> dict[str, parallel.Pending[Any]]:
    """The panels' upstream reads, started now, beside the page's own read of the detail;
    with `detail`, that read too (`"device"`), first, so the request thread is free to send
    the page's head meanwhile (portal/streaming.py).

    `uid` has been checked; the reads need no database (the read pool's rule: the detail's
    read-cache key is worked out here, in the request thread)."""
    reads = {"device": parallel.start(client.device_read(uid))} if detail else {}
    return {
        **reads,
        "buttons": parallel.start(client.list_buttons, uid),
        "firmware": parallel.start(client.list_firmwares, uid),
    }


def cancel(reads: dict[str, parallel.Pending[Any]]) -> None:
    """The page will not draw its panels (its own read failed): make no read not yet made."""
    for read in reads.values():
        read.cancel()


def draw(
    request: HttpRequest, uid: str, device: dict[str, Any], reads: dict[str, parallel.Pending[Any]]
) -> dict[str, SafeString]:
    """Each panel's HTML whose reads are done in time; a panel left out loads after the page."""
    deadline = time.monotonic() + settings.PORTAL_PANEL_WAIT_SECONDS
    name = _name(device, uid)
    drawers: dict[str, Callable[[], SafeString]] = {
        # The portal's own records, no upstream read: always drawn with the page.
        "tags": lambda: render_to_string(
            "fleet/device_tags.html#panel", tag_views.panel_context(request, uid, name), request
        ),
        "commands": lambda: render_to_string(
            "devices/commands.html#panel",
            actions.panel_context(request, uid, name, no_target=not device.get("target_firmware")),
            request,
        ),
        "buttons": lambda: render_to_string(
            "devices/buttons.html#panel",
            buttons.panel_context(request, uid, listing=reads["buttons"], device_name=name),
            request,
        ),
        "firmware": lambda: render_to_string(
            "firmware/panel.html#panel",
            firmware_views.panel_context(
                request, uid, listing=reads["firmware"], known_device=device
            ),
            request,
        ),
    }
    drawn: dict[str, SafeString] = {}
    for panel in PANELS:
        read = reads.get(panel)
        if read is not None and not read.within(deadline - time.monotonic()):
            read.cancel()  # too slow for the page: the placeholder loads it on its own
            continue
        try:
            drawn[panel] = drawers[panel]()
        except Exception:
            # Never the page's failure: the placeholder loads the panel (and its error) alone.
            logger.exception("the %s panel could not be drawn in the page", panel)
    return drawn


def _name(device: dict[str, Any], uid: str) -> str:
    """The device's name as the panels' sentences use it (what the page passed them before)."""
    return storable.shown(display.text(device.get("name"))).strip()[:100] or uid
