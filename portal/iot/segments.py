"""Path segments from users and URLs, checked against strict patterns before any call."""

from __future__ import annotations

import re
from urllib.parse import quote

from portal.iot.errors import InvalidIdentifier

UID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
BUTTON_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
FIRMWARE_ID_PATTERN = re.compile(r"[0-9]{1,18}")
MD5_PATTERN = re.compile(r"[0-9a-fA-F]{32}")

MAX_FIRMWARE_BYTES = 4 * 1024 * 1024
FIRMWARE_TOO_LARGE = "The file is larger than 4 MB; the device service accepts at most 4 MB."


def segment(value: object, pattern: re.Pattern[str], what: str) -> str:
    """The value percent-encoded for a path, or InvalidIdentifier when it fails its pattern."""
    text = str(value) if isinstance(value, int | str) else ""
    if not pattern.fullmatch(text):
        raise InvalidIdentifier(f"That is not a valid {what}.", 400)
    return quote(text, safe="")


def check_uid(uid: str) -> str:
    return segment(uid, UID_PATTERN, "device id")


def check_md5(md5: object) -> str:
    if not isinstance(md5, str) or not MD5_PATTERN.fullmatch(md5):
        raise InvalidIdentifier("That is not a valid firmware md5.", 400)
    return md5.lower()
