"""Custom command payloads: parsing with useful errors, and spotting built-in actions."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_PAYLOAD_BYTES = 8 * 1024


class PayloadError(ValueError):
    """A payload that may not be sent; the message is fit to show beside the field."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def parse(text: str) -> dict[str, Any]:
    """A JSON object of at most 8 KB, or PayloadError saying what is wrong and where."""
    size = len(text.encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadError(
            f"The payload is {size:,} bytes; at most 8 KB ({MAX_PAYLOAD_BYTES:,} bytes) "
            "can be sent."
        )
    if not text.strip():
        raise PayloadError('Type a JSON object to send, like {"relay": "on"}.')
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise PayloadError(
            f"Line {error.lineno}, column {error.colno}: {error.msg}.", error.lineno
        ) from None
    if not isinstance(value, dict):
        raise PayloadError('The payload must be a JSON object, like {"relay": "on"}.')
    return value


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
