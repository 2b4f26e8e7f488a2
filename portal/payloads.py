"""Custom command payloads: parsing with useful errors, and spotting built-in actions.

In the core: a device's command form (devices/) and a bulk command (fleet/) check a payload
the same way.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from portal import storable

MAX_PAYLOAD_BYTES = 8 * 1024


class PayloadError(ValueError):
    """A payload that may not be sent; the message is fit to show beside the field."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def parse(text: str) -> dict[str, Any]:
    """A JSON object of at most 8 KB that can be sent and stored faithfully, or PayloadError
    saying what is wrong and where."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadError(
            f"The payload is {size:,} bytes; at most 8 KB ({MAX_PAYLOAD_BYTES:,} bytes) "
            "can be sent."
        )
    if not text.strip():
        raise PayloadError('Type a JSON object to send, like {"relay": "on"}.')
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_integer)
    except _BadNumber as bad:
        line, column = _where(text, bad.literal)
        raise PayloadError(f"Line {line}, column {column}: {bad.reason}", line) from None
    except json.JSONDecodeError as error:
        # Our own sentence and place, the ones the command editor shows as it checks
        # (static/devices/devices.js): never the parser's words ("Expecting value").
        offset, sentence = problem(text) or (error.pos, "This is not valid JSON.")
        line, column = position(text, offset)
        raise PayloadError(f"Line {line}, column {column}: {sentence}", line) from None
    except RecursionError:
        raise PayloadError(_TOO_DEEP) from None
    if not isinstance(value, dict):
        raise PayloadError('The payload must be a JSON object, like {"relay": "on"}.')
    found = storable.problem(value)
    if found:
        raise PayloadError(f"The payload {found}.")
    return value


_TOO_DEEP = f"The payload is nested more than {storable.MAX_DEPTH} levels deep."
# Digits an integer may have before it is converted at all: Python refuses more than 4,300,
# and a 64-bit peer reads at most 19.
_MAX_DIGITS = 19


class _BadNumber(ValueError):
    def __init__(self, literal: str, reason: str) -> None:
        super().__init__(reason)
        self.literal, self.reason = literal, reason


def _constant(literal: str) -> Any:
    raise _BadNumber(
        literal, f'{literal} is not a number JSON allows; send it as a string, like "{literal}".'
    )


def _float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise _BadNumber(literal, f"{literal} is too large a number to send.")
    return number


def _integer(literal: str) -> int:
    too_big = f"{literal[:20]}{'…' if len(literal) > 20 else ''} is too large an integer to send "
    too_big += "(at most 2^63 - 1); send it as a string."
    if len(literal.lstrip("-")) > _MAX_DIGITS:
        raise _BadNumber(literal, too_big)
    number = int(literal)
    if abs(number) >= storable.MAX_INT:
        raise _BadNumber(literal, too_big)
    return number


def _where(text: str, literal: str) -> tuple[int, int]:
    """The line and column of `literal` as a JSON token (not inside a string)."""
    token = re.compile(r'"(?:[^"\\]|\\.)*"|(?<![\w.+-])' + re.escape(literal) + r"(?![\w.])")
    offset = next((m.start() for m in token.finditer(text) if m.group()[:1] != '"'), 0)
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


# --- the JSON check -----------------------------------------------------------------------
# What is wrong with a text that is not JSON, where, in a sentence of our own. The command
# editor's script (static/devices/devices.js, `PortalPayload.problem`) is the same scanner
# with the same sentences, so the browser and the server say the same thing at the same place;
# tests/browser/test_payload_check.py holds them to it.

SENTENCES = {
    "value": "A value is expected here: text in double quotes, a number, true, false, null, "
    "an object or an array.",
    "end-value": "The JSON ends where a value should be.",
    "end-object": 'The JSON ends before the closing "}" of an object.',
    "end-array": 'The JSON ends before the closing "]" of a list.',
    "word": 'The word {word} is not a JSON value: put text in double quotes, like "{word}" '
    "(true, false and null are written without quotes).",
    "single": "Text must be in double quotes (\"), not single quotes (').",
    "bare-key": 'A key must be in double quotes, like "{word}".',
    "key": 'A key in double quotes is expected here, like "relay".',
    "trailing-object": 'There is a comma too many before the closing "}".',
    "trailing-array": 'There is a comma too many before the closing "]".',
    "colon": "A colon (:) is expected after the key.",
    "comma-object": 'A comma (,) or the closing "}" is expected after the value.',
    "comma-array": 'A comma (,) or the closing "]" is expected after the item.',
    "extra": "There is more text after the end of the JSON: remove it, or put it inside the "
    "braces.",
    "unterminated": 'This text has no closing double quote (").',
    "control": "A line break or a tab inside text must be written as \\n or \\t.",
    "escape": 'A backslash in text must start an escape like \\n, \\t, \\" or \\u00e9; write '
    "\\\\ for a backslash itself.",
    "unicode": "A \\u escape needs four hexadecimal digits, like \\u00e9.",
    "number": "This number is not written as JSON allows (like 12, -3.5 or 2e6).",
    "constant": '{word} is not a number JSON allows; send it as a string, like "{word}".',
}
_SPACE = " \t\n\r"
_DIGITS = "0123456789"
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
_CLOSE = {"{": "}", "[": "]"}
_KIND = {"{": "object", "[": "array"}


def problem(text: str) -> tuple[int, str] | None:
    """The first thing wrong with `text` as JSON: its offset and a sentence, or None.

    A small scanner with an explicit stack (no recursion, whatever the nesting)."""
    stack: list[str] = []
    state, comma, i, n = "value", -1, 0, len(text)
    while True:
        while i < n and text[i] in _SPACE:
            i += 1
        c = text[i] if i < n else ""
        if state in ("value", "first-item"):
            if c == "]" and stack and stack[-1] == "[" and (state == "first-item" or comma >= 0):
                if state == "value":
                    return comma, SENTENCES["trailing-array"]
                stack.pop()
                i, state = i + 1, "after"
                continue
            if not c:
                return i, SENTENCES["end-value"]
            if c in "{[":
                stack.append(c)
                i, state, comma = i + 1, "first-key" if c == "{" else "first-item", -1
                continue
            if c == '"':
                found = _string(text, i)
                if isinstance(found, tuple):
                    return found
                i, state = found, "after"
                continue
            if c == "-" or c in _DIGITS:
                if text.startswith("-Infinity", i):
                    return i, SENTENCES["constant"].format(word="-Infinity")
                number = _NUMBER.match(text, i)
                end = number.end() if number else i
                if not number or (end < n and text[end] in ".eE" + _DIGITS):
                    return i, SENTENCES["number"]
                i, state = end, "after"
                continue
            word = _WORD.match(text, i)
            if word and word.group() in ("true", "false", "null"):
                i, state = word.end(), "after"
                continue
            if word and word.group() in ("NaN", "Infinity"):
                return i, SENTENCES["constant"].format(word=word.group())
            if word:
                return i, SENTENCES["word"].format(word=word.group())
            return i, SENTENCES["single" if c == "'" else "value"]
        if state in ("first-key", "key"):
            if c == "}":
                if state == "key":
                    return comma, SENTENCES["trailing-object"]
                stack.pop()
                i, state = i + 1, "after"
                continue
            if c == '"':
                found = _string(text, i)
                if isinstance(found, tuple):
                    return found
                i, state = found, "colon"
                continue
            word = _WORD.match(text, i)
            if not c:
                return i, SENTENCES["end-object"]
            if word:
                return i, SENTENCES["bare-key"].format(word=word.group())
            return i, SENTENCES["single" if c == "'" else "key"]
        if state == "colon":
            if c != ":":
                return i, SENTENCES["end-object" if not c else "colon"]
            i, state, comma = i + 1, "value", -1
            continue
        # after a value
        if not stack:
            return (i, SENTENCES["extra"]) if c else None
        top = stack[-1]
        if not c:
            return i, SENTENCES[f"end-{_KIND[top]}"]
        if c == ",":
            i, comma, state = i + 1, i, "key" if top == "{" else "value"
            continue
        if c == _CLOSE[top]:
            stack.pop()
            i, state = i + 1, "after"
            continue
        return i, SENTENCES[f"comma-{_KIND[top]}"]


def _string(text: str, start: int) -> int | tuple[int, str]:
    """The offset after the string opening at `start`, or where and why it is wrong."""
    i, n = start + 1, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            return i + 1
        if c == "\\":
            after = text[i + 1 : i + 2]
            if not after:
                break
            if after in '"\\/bfnrt':
                i += 2
            elif after == "u" and _HEX4.fullmatch(text, i + 2, i + 6):
                i += 6
            else:
                return i, SENTENCES["unicode" if after == "u" else "escape"]
        elif c < " ":
            return i, SENTENCES["control"]
        else:
            i += 1
    return start, SENTENCES["unterminated"]


def position(text: str, offset: int) -> tuple[int, int]:
    """The line and column (both from 1, in characters) of an offset into `text`."""
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


# What a built-in action looks like inside a payload, by the words in its keys and values.
BUILTINS = {
    "wifi_reset": "a Wi-Fi reset",
    "ota": "an OTA update",
    "reboot": "a reboot",
}
BUTTON_OF = {"wifi_reset": "Reset Wi-Fi", "ota": "Start update", "reboot": "Reboot"}


def _words(value: Any, depth: int = 0) -> set[str]:
    if depth > 4:
        return set()
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found |= _split(str(key)) | _words(item, depth + 1)
    elif isinstance(value, list):
        for item in value[:50]:
            found |= _words(item, depth + 1)
    elif isinstance(value, str):
        found |= _split(value[:200])
    return found


def _split(text: str) -> set[str]:
    # "wifiReset", "wifi-reset", "WIFI_RESET" and "reset wifi" all give {"wifi", "reset"}.
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower().replace("wi-fi", "wifi")
    return set(re.split(r"[^a-z0-9]+", text)) - {""}


def looks_builtin(payload: dict[str, Any]) -> str | None:
    """Which built-in action ("reboot", "wifi_reset", "ota") a payload seems to ask for."""
    words = _words(payload)
    if "wifireset" in words or ("wifi" in words and words & {"reset", "forget", "clear"}):
        return "wifi_reset"
    if words & {"ota", "fota"} or ("firmware" in words and words & {"update", "upgrade"}):
        return "ota"
    if words & {"reboot", "restart"}:
        return "reboot"
    return None
