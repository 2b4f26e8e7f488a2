"""Template helpers for upstream data: timestamps, nulls, permissions."""

from datetime import datetime, timedelta

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


@register.filter
def minutes(value: timedelta | None) -> str:
    """A duration in whole minutes, as words: "15 minutes", "1 minute" (at least one)."""
    if not isinstance(value, timedelta):
        return ""
    count = max(1, round(value.total_seconds() / 60))
    return f"{count} minute{'s' if count != 1 else ''}"


@register.filter
def token_rejected(error: object) -> bool:
    """Whether an upstream error means the device service refused the token itself (401)."""
    from portal.iot import TokenRejected

    return isinstance(error, TokenRejected) and error.status == 401
