"""Custom command payloads: parsing with useful errors, and spotting built-in actions."""

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
        raise PayloadError(
            f"Line {error.lineno}, column {error.colno}: {error.msg}.", error.lineno
        ) from None
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


# What a built-in action looks like inside a payload, by the words in its keys and values.
BUILTINS = {
    "wifi_reset": "a Wi-Fi reset",
    "ota": "an OTA update",
    "reboot": "a reboot",
}
BUTTON_OF = {"wifi_reset": "Reset Wi-Fi", "ota": "Check for update", "reboot": "Reboot"}


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
