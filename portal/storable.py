"""What the portal can store, show and send faithfully, and bounded copies of what it cannot.

Two halves, one rule each:

- `check` refuses input before any upstream call: a NUL (PostgreSQL text and jsonb cannot
  hold one), a lone surrogate (not UTF-8: it cannot be sent or stored), a number JSON peers
  read differently (NaN, Infinity, integers beyond 64 bits), nesting too deep to walk, or a
  value too big to record. Its message names the field.
- `bounded` and `text` make a copy that can always be stored (NUL and surrogates escaped,
  strings cut, the whole bounded), for the audit row, which must never fail.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 32
MAX_INT = 2**63  # what a signed 64-bit peer (and most JSON decoders) reads exactly
MAX_TEXT = 64 * 1024  # characters in one string given to a write
MAX_ITEMS = 1000  # entries in one object or list

# The audit row's own bounds.
SENT_LIMIT = 8 * 1024  # bytes of `sent` as JSON
TEXT_LIMIT = 1000  # characters of one string inside `sent`
TRUNCATED = "…[truncated]"


class Unstorable(ValueError):
    """Input the portal refuses; `message` names the field and is fit to show."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character (\\u0000), which cannot be stored"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (an invalid \\ud800–\\udfff escape), which is not text"
    if len(value) > MAX_TEXT:
        return f"is {len(value):,} characters long; at most {MAX_TEXT:,} can be sent"
    return None


def problem(value: Any, depth: int = 0) -> str | None:
    """Why `value` (text, numbers, JSON objects and lists, nested) cannot be sent, or None."""
    if depth > MAX_DEPTH:
        return f"is nested more than {MAX_DEPTH} levels deep"
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if abs(value) >= MAX_INT:
            return "holds an integer too large for the device service (at most 2^63 - 1)"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "holds a number that is not finite"
    if isinstance(value, Mapping):
        if len(value) > MAX_ITEMS:
            return f"has more than {MAX_ITEMS:,} entries"
        for key, item in value.items():
            found = problem(key, depth + 1) if isinstance(key, str) else None
            found = found or problem(item, depth + 1)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            return f"has more than {MAX_ITEMS:,} entries"
        return next((p for p in (problem(item, depth + 1) for item in value) if p), None)
    return None  # files and other objects are checked by their own forms


def check(fields: Mapping[str, Any]) -> None:
    """Raise Unstorable for the first field that cannot be stored, shown or sent faithfully."""
    for name, value in fields.items():
        found = problem(value)
        if found:
            label = name.replace("_", " ").capitalize()
            raise Unstorable(name, f"{label} {found}.")


# --- bounded, storable copies (for the audit row) --------------------------------------------


def text(value: object, limit: int = TEXT_LIMIT) -> str:
    """`value` as text any database stores: NUL and surrogates escaped, at most `limit` long."""
    raw = value if isinstance(value, str) else str(value)
    if len(raw) > limit * 4:
        raw = raw[: limit * 4]  # escaping only lengthens text: the rest would be cut anyway
    raw = escaped(raw)
    if len(raw) > limit:
        raw = raw[: max(0, limit - len(TRUNCATED))] + TRUNCATED
    return raw


def escaped(raw: str) -> str:
    """`raw` with NUL and lone surrogates written as escapes (`\\u0000`, `\\ud800`)."""
    if "\x00" in raw:
        raw = raw.replace("\x00", "\\u0000")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raw = raw.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw


def _copy(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if abs(value) < MAX_INT else text(_int_text(value), 100)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= MAX_DEPTH:
        return TRUNCATED
    if isinstance(value, Mapping):
        items = list(value.items())
        copy = {text(k, 200): _copy(v, depth + 1) for k, v in items[:100]}
        if len(items) > 100:
            copy[TRUNCATED] = f"{len(items) - 100:,} more entries"
        return copy
    if isinstance(value, list | tuple):
        copy = [_copy(v, depth + 1) for v in value[:100]]
        if len(value) > 100:
            copy.append(f"{TRUNCATED} {len(value) - 100:,} more items")
        return copy
    return text(value)


def _int_text(value: int) -> str:
    # str() of an int over 4,300 digits raises ValueError: say how big it is instead.
    digits = int(abs(value).bit_length() * 0.30103) + 1
    return f"an integer of about {digits:,} digits"


def bounded(sent: Mapping[str, Any] | None, limit: int = SENT_LIMIT) -> dict[str, Any]:
    """A copy of `sent` that any database stores as JSON, at most about `limit` bytes."""
    copy = _copy(dict(sent or {}), 0)
    encoded = json.dumps(copy, ensure_ascii=False)
    if len(encoded.encode("utf-8")) <= limit:
        return copy
    # Keep the fields that fit, whole, and mark the rest: a row stays readable and small.
    kept: dict[str, Any] = {}
    used = 64
    for key, item in copy.items():
        size = len(json.dumps({key: item}, ensure_ascii=False).encode("utf-8"))
        if used + size > limit // 2:
            item = text(json.dumps(item, ensure_ascii=False), 200)
            size = len(json.dumps({key: item}, ensure_ascii=False).encode("utf-8"))
            if used + size > limit:
                break
        kept[key] = item
        used += size
    kept[TRUNCATED] = f"{len(encoded.encode('utf-8')):,} bytes in full"
    return kept


_SURROGATE = re.compile("[\ud800-\udfff]")


def shown(value: Any) -> Any:
    """`value` (text, or JSON nested) fit for a page: lone surrogates and NUL become U+FFFD.

    An upstream can send them (`"\\ud800"` is valid JSON); a page that held one could not be
    encoded and would answer 500 to everyone who opens it.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = _SURROGATE.sub("\ufffd", value)
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {shown(k): shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shown(v) for v in value]
    return value


_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


def token_problem(value: str) -> str | None:
    """Why an API token cannot travel in an `Authorization` header, or None.

    A header carries visible ASCII only: a space, a newline, another control character or a
    non-ASCII letter would fail every upstream call (or split the header) on every page.
    """
    if _HEADER_SAFE.fullmatch(value):
        return None
    bad = next((c for c in value if not _HEADER_SAFE.fullmatch(c)), "")
    if bad in (" ", "\u00a0"):
        what = "a space"
    elif bad and (ord(bad) < 0x20 or ord(bad) == 0x7F):
        what = "a control character (a newline, a tab…)"
    elif bad:
        what = f"a non-ASCII character ({bad!a})"
    else:
        what = "nothing"
    return (
        f"An API token is letters, digits and punctuation only; this one has {what}, "
        "which an HTTP header cannot carry. Paste the token exactly as the device service "
        "shows it."
    )
