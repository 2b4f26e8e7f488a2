"""Template helpers for device payloads: times, free-form objects, JSON."""

from __future__ import annotations

import json

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from devices.listing import ago, parse_time
from portal import display, results
from portal.presence import Presence, presence

register = template.Library()

# Fields of a firmware reference worth showing first; any others follow in their own order.
FIRST_KEYS = ("name", "version", "md5", "id")


@register.simple_tag
def moment(value: object) -> SafeString | str:
    """An upstream timestamp as <time>: relative words, the exact local time on hover."""
    at = parse_time(value)
    if at is None:
        return "—"
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.get_current_timezone())
    local = timezone.localtime(at)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        at.isoformat(),
        local.strftime("%Y-%m-%d %H:%M:%S %Z"),
        ago(at, timezone.now()),
    )


@register.simple_tag
def online(device: object) -> Presence:
    """`{% online device as presence %}`: the one online rule (portal/presence.py)."""
    if not isinstance(device, dict):
        device = {}
    return presence(device.get("is_online"), device.get("last_seen_at"))


@register.filter
def pairs(value: object) -> list[tuple[str, str]]:
    """A free-form object (meta, a firmware reference) as (key, text) pairs."""
    if not isinstance(value, dict):
        return []
    keys = [k for k in FIRST_KEYS if k in value]
    keys += sorted((k for k in value if k not in FIRST_KEYS), key=str)
    return [(display.text(k), display.dash(value[k])) for k in keys]


@register.filter
def firmware_label(value: object) -> str:
    """A firmware reference in a sentence: its name and version ("Relay firmware 1.0.3").

    Whatever the upstream sends: an object without either reads as its other fields, a bare
    string as itself.
    """
    if isinstance(value, dict):
        words = [
            w for w in (display.text(value.get("name")), display.text(value.get("version"))) if w
        ]
        if words:
            return " ".join(words)
    return display.dash(value)


@register.filter
def as_json(value: object) -> str:
    """A payload as compact JSON, for showing what a button sends."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


@register.filter
def pretty_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


@register.simple_tag
def firmware_state(device: object, firmwares: object = None) -> dict[str, str]:
    """`{% firmware_state device firmwares as state %}`: the firmware panel's header.

    Current and target come from the firmware list when it is given (its `is_current` and
    `is_target`, which the cards below show), so the header and the cards never disagree;
    the device's own references only stand in when the list names none. The OTA state is
    the device's `meta.ota_status`, shown as the upstream words it.
    """
    device = device if isinstance(device, dict) else {}
    listed = [fw for fw in firmwares if isinstance(fw, dict)] if isinstance(firmwares, list) else []

    def pick(flag: str, field: str) -> str:
        fw = next((fw for fw in listed if fw.get(flag) is True), None)
        fw = fw if fw is not None else device.get(field)
        return firmware_label(fw) if fw else ""

    meta = device.get("meta")
    return {
        "current": pick("is_current", "current_firmware"),
        "target": pick("is_target", "target_firmware"),
        "ota": display.text(meta.get("ota_status")) if isinstance(meta, dict) else "",
    }


@register.filter
def is_number(value: object) -> bool:
    """Whether a value is a JSON number (not a boolean): what `filesizeformat` can read."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@register.simple_tag
def device_label(name: object, uid: object, beside: bool = False) -> SafeString:
    """A device, named the same way on every page: its name, the uid on hover (`beside`: the
    uid shown after it). The name carries `data-device-name`, so a rename updates it in place
    (static/devices/devices.js)."""
    uid = display.text(uid)
    label = results.device_label(name, uid)
    if label == uid:
        return format_html(
            '<span class="device-label"><span data-device-name data-device-uid="{}"><code>{}</code>'
            "</span></span>",
            uid, uid,
        )  # fmt: skip
    if beside:
        return format_html(
            '<span class="device-label"><span data-device-name data-device-uid="{}">{}</span> '
            '<code class="uid">{}</code></span>',
            uid, label, uid,
        )  # fmt: skip
    return format_html(
        '<span class="device-label" title="uid {}"><span data-device-name data-device-uid="{}">'
        "{}</span></span>",
        uid, uid, label,
    )  # fmt: skip


@register.simple_tag
def confirm_attrs(template: str, name: object, uid: object = "", **parts: object) -> SafeString:
    """The hx-confirm of a question that names the device, with its template beside it, so
    the page asks with the current name after a rename (portal.results.question)."""
    now, later = results.question(template, results.device_label(name, display.text(uid)), **parts)
    return format_html('hx-confirm="{}" data-confirm-template="{}"', now, later)
