"""Template helpers for upstream data: timestamps, nulls, permissions, long tokens."""

import re
from datetime import datetime, timedelta

from django import template
from django.utils.dateparse import parse_datetime
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe

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
    """`{% if user|can:"reboot_device" %}`: whether the user holds a portal permission.

    A device's page asks about fifty times (the menu, each panel's buttons); each answer is
    kept on the user object for the request, as Django keeps the permissions themselves
    (`_perm_cache`), and is dropped with them (portal.services.set_role drops that cache).
    """
    if not user:
        return False
    # getattr, not __dict__: `user` is often request.user, a lazy object around the user.
    perms = getattr(user, "_perm_cache", None)
    memo = getattr(user, "_portal_can", None)
    if memo is None or memo[0] is not perms:
        memo = (perms, {})
        user._portal_can = memo
    answers = memo[1]
    if codename not in answers:
        answers[codename] = bool(user.has_perm(f"portal.{codename}"))
        # The first check may have loaded the permissions: key the answers to that cache.
        loaded = getattr(user, "_perm_cache", None)
        if loaded is not perms:
            user._portal_can = (loaded, answers)
    return answers[codename]


_BREAK_AFTER = re.compile(r"([._\-:/@])")


@register.filter
def breakable(value: object) -> str:
    """A long token (a uid, an address, a code) with line-break chances after its
    punctuation (`espressif32_|a1b2…`, `device.|rename`), so a narrow column wraps it
    there instead of mid-word; the text itself (copying, searching) is unchanged."""
    escaped = conditional_escape("" if value is None else value)
    # Safe: the text is escaped first, and no escape holds one of the characters matched.
    return mark_safe(_BREAK_AFTER.sub(r"\1<wbr>", escaped))  # noqa: S308


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


@register.simple_tag
def form_key() -> str:
    """The hidden field of a write form's one-time key (portal.form_keys): fresh each time
    the form is drawn. Goes beside `{% csrf_token %}` in every form that writes."""
    from portal import form_keys

    return format_html(
        '<input type="hidden" name="{}" value="{}">', form_keys.FIELD, form_keys.new()
    )


@register.simple_tag
def new_form_key() -> str:
    """A fresh one-time key by itself, for a write that is not a form (hx-vals)."""
    from portal import form_keys

    return form_keys.new()
