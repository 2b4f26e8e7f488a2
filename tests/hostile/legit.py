"""The only requests the portal may make upstream: API.md's sixteen endpoints, strict segments.

A request is legitimate when its method and its path *as sent* (still percent-encoded) match one
row. The segments are the portal's own patterns (portal/iot/segments.py), none of which allows
a `%`, so an encoded slash, dot or NUL can never pass for part of a legitimate path.
"""

from __future__ import annotations

import re

from portal.iot.segments import BUTTON_ID_PATTERN, FIRMWARE_ID_PATTERN, UID_PATTERN

UID = f"(?:{UID_PATTERN.pattern})"
BUTTON = f"(?:{BUTTON_ID_PATTERN.pattern})"
FIRMWARE = f"(?:{FIRMWARE_ID_PATTERN.pattern})"
DEVICES = "/v1/user/devices"
DEVICE = f"{DEVICES}/{UID}"

# (endpoint, method, path regex): API.md's table, row by row.
ENDPOINTS: list[tuple[str, str, str]] = [
    ("devices.list", "GET", DEVICES),
    ("devices.detail", "GET", DEVICE),
    ("devices.update", "PATCH", DEVICE),
    ("devices.reboot", "POST", f"{DEVICE}/reboot"),
    ("devices.wifi-reset", "POST", f"{DEVICE}/wifi-reset"),
    ("devices.ota", "POST", f"{DEVICE}/ota"),
    ("devices.commands", "POST", f"{DEVICE}/commands"),
    ("buttons.list", "GET", f"{DEVICE}/command-buttons"),
    ("buttons.create", "POST", f"{DEVICE}/command-buttons"),
    ("buttons.delete", "DELETE", f"{DEVICE}/command-buttons/{BUTTON}"),
    ("buttons.send", "POST", f"{DEVICE}/command-buttons/{BUTTON}/send"),
    ("firmwares.list", "GET", f"{DEVICE}/firmwares"),
    ("firmwares.upload", "POST", f"{DEVICE}/firmwares"),
    ("firmwares.update", "PATCH", f"{DEVICE}/firmwares/{FIRMWARE}"),
    ("firmwares.delete", "DELETE", f"{DEVICE}/firmwares/{FIRMWARE}"),
    ("firmwares.set-target", "POST", f"{DEVICE}/firmwares/set-target"),
]
_COMPILED = [(name, method, re.compile(path)) for name, method, path in ENDPOINTS]

# The audit action of each portal write, and the upstream endpoint it calls.
WRITE_ACTIONS: dict[str, str] = {
    "device.rename": "devices.update",
    "device.reboot": "devices.reboot",
    "device.wifi_reset": "devices.wifi-reset",
    "device.ota": "devices.ota",
    "firmware.ota": "devices.ota",
    "device.command": "devices.commands",
    "button.create": "buttons.create",
    "button.delete": "buttons.delete",
    "button.send": "buttons.send",
    "firmware.upload": "firmwares.upload",
    "firmware.update": "firmwares.update",
    "firmware.delete": "firmwares.delete",
    "firmware.set_target": "firmwares.set-target",
}


def endpoint_of(method: str, raw_path: str) -> str | None:
    """The endpoint a request is, or None when it is no legitimate request at all."""
    for name, allowed, pattern in _COMPILED:
        if method == allowed and pattern.fullmatch(raw_path):
            return name
    return None
