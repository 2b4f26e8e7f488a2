"""Template helpers for upstream data: timestamps, nulls, permissions."""

from datetime import datetime

from django import template
from django.utils.dateparse import parse_datetime

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
def dash(value: object) -> object:
    """The value, or an em dash for null and empty values."""
    return "—" if value is None or value == "" else value


@register.filter
def can(user, codename: str) -> bool:
    """`{% if user|can:"reboot_device" %}`: whether the user holds a portal permission."""
    return bool(user and user.has_perm(f"portal.{codename}"))
