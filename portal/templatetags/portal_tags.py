"""Template helpers for upstream data: timestamps, nulls, permissions."""

from datetime import datetime

from django import template
from django.utils.dateparse import parse_datetime

from portal import display

register = template.Library()


@register.filter
def upstream_time(value: object) -> datetime | None:
    """An upstream ISO 8601 timestamp as an aware datetime (None when null or unreadable)."""
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


@register.filter
def shown(value: object, fallback: str = "—") -> str:
    """Any upstream value as readable text (portal.display.text); `fallback` for nothing.

    `{{ device.board_variant|shown }}`: an object's name or key, a list joined, Yes/No;
    never a Python repr, `None` or `null`. `{{ device.name|shown:uid }}` falls back to uid.
    """
    return display.text(value) or fallback


# The filter's older name, kept so a template written against it still reads the same.
register.filter("dash", shown)


@register.filter
def can(user, codename: str) -> bool:
    """`{% if user|can:"reboot_device" %}`: whether the user holds a portal permission."""
    return bool(user and user.has_perm(f"portal.{codename}"))
