"""Template helpers for device payloads: times, free-form objects, JSON."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from devices.listing import ago, parse_time

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


def shown(value: Any) -> str:
    """A free-form value as text: null as a dash, objects and lists as compact JSON."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return str(value)


@register.filter
def pairs(value: object) -> list[tuple[str, str]]:
    """A free-form object (meta, a firmware reference) as (key, text) pairs."""
    if not isinstance(value, dict):
        return []
    keys = [k for k in FIRST_KEYS if k in value]
    keys += sorted((k for k in value if k not in FIRST_KEYS), key=str)
    return [(str(k), shown(value[k])) for k in keys]


@register.filter
def as_json(value: object) -> str:
    """A payload as compact JSON, for showing what a button sends."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


@register.filter
def pretty_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)
