"""Upstream values as a person reads them: any JSON value to text, timestamps to datetimes.

The reference shows `platform` and `board` as objects, `board_variant` only as null, and
says nothing of the other shapes a field may take; production sends what it sends. Every
upstream value a page shows goes through `text()`, so none reaches a page as a Python repr,
`None` or `null` (API.md: "Shapes the reference does not show are unknown, not absent").
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

# How deep an object inside an object is still spelled out; deeper ones become "…", so a
# hostile nesting costs a few calls, not a recursion error.
MAX_DEPTH = 3
# Keys that name an object: `{"id", "name", "key"}` reads as its name, else its key.
NAMING_KEYS = ("name", "key")
_SURROGATE = re.compile("[\ud800-\udfff]")


def text(value: Any, _depth: int = 0) -> str:
    """Any JSON value as readable text; "" for null, missing or empty.

    An object reads as its `name` (else its `key`), else as "key: value, ..."; a list as its
    items joined with ", "; booleans as Yes/No; numbers as written.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return _printable(value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if _depth >= MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        for key in NAMING_KEYS:
            named = value.get(key)
            if named is not None and not isinstance(named, dict | list):
                shown = text(named, _depth + 1)
                if shown:
                    return shown
        parts = []
        for key, item in value.items():
            inner = text(item, _depth + 1)
            if isinstance(item, dict) and inner and "name" not in item and "key" not in item:
                inner = f"({inner})"
            parts.append(f"{text(key, _depth + 1)}: {inner or '—'}")
        return ", ".join(parts)
    if isinstance(value, list | tuple):
        return ", ".join(shown for item in value if (shown := text(item, _depth + 1)))
    # A typed value of the portal's own (a list's `Named`): its name, else its key.
    for key in NAMING_KEYS:
        named = getattr(value, key, None)
        if isinstance(named, str) and named:
            return _printable(named)
    return ""


def dash(value: Any) -> str:
    """`text()`, with an em dash for nothing to show."""
    return text(value) or "—"


def _number(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return ""  # not a number a person can use; json.loads lets them through
    return repr(value)


def _printable(value: str) -> str:
    # A lone surrogate (JSON allows "\ud800") cannot be encoded into the page: U+FFFD instead.
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)
    return value


def parse_time(value: object) -> datetime | None:
    """An upstream ISO 8601 timestamp, or None when null or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)  # C-fast; takes "Z" and offsets
    except ValueError:
        try:
            return parse_datetime(value)
        except ValueError:
            return None
