"""Errors and Laravel-like input validation.

The vendor runs Laravel (its messages give it away: "Unauthenticated.", "The file field must not
be greater than 4096 kilobytes."), so validation here copies Laravel's wording and its input
clean-up: strings are trimmed and an empty string becomes null before any rule runs.
"""

from __future__ import annotations

import re
from typing import Any

BUTTON_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ApiError(Exception):
    """An error answer of the emulated API: HTTP status plus a ``{"message", "errors"?}`` body."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body, with ``errors`` only when there are field errors."""
        body: dict[str, Any] = {"message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def unprocessable(message: str) -> ApiError:
    """A 422 with a message only, as the reference shows for business-rule refusals."""
    return ApiError(422, message)


class Validator:
    """Collects field errors and raises one 422 with Laravel's summary message.

    Laravel's summary is the first message, plus "(and N more error[s])" when there are more.
    Each field reports only its first failing rule, which is what clients display anyway.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.errors: dict[str, list[str]] = {}
        self.clean: dict[str, Any] = {}

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def present(self, field: str) -> bool:
        return field in self.data

    def _cleaned(self, field: str) -> Any:
        # TrimStrings + ConvertEmptyStringsToNull, as Laravel's default middleware does.
        value = self.data.get(field)
        if isinstance(value, str):
            value = value.strip() or None
        return value

    def string(
        self,
        field: str,
        *,
        required: bool,
        max_len: int,
        sometimes: bool = False,
    ) -> None:
        """``[sometimes|]required|string|max:N`` or ``nullable|string|max:N``."""
        if sometimes and not self.present(field):
            return
        value = self._cleaned(field)
        if value is None:
            if required:
                self.fail(field, f"The {field} field is required.")
            elif self.present(field):
                self.clean[field] = None
            return
        if not isinstance(value, str):
            self.fail(field, f"The {field} field must be a string.")
            return
        if len(value) > max_len:
            self.fail(field, f"The {field} field must not be greater than {max_len} characters.")
            return
        self.clean[field] = value

    def button_id(self, field: str = "id") -> None:
        """``required|string|max:64|regex:/^[A-Za-z0-9_-]+$/``."""
        value = self._cleaned(field)
        if value is None:
            self.fail(field, f"The {field} field is required.")
        elif not isinstance(value, str):
            self.fail(field, f"The {field} field must be a string.")
        elif len(value) > 64:
            self.fail(field, f"The {field} field must not be greater than 64 characters.")
        elif not BUTTON_ID_RE.match(value):
            self.fail(field, f"The {field} field format is invalid.")
        else:
            self.clean[field] = value

    def payload(self, field: str = "payload") -> None:
        """``required|array``: a non-empty JSON object (Laravel calls objects arrays)."""
        value = self.data.get(field)
        if value is None or value == {} or value == "":
            self.fail(field, f"The {field} field is required.")
        elif not isinstance(value, dict):
            self.fail(field, f"The {field} field must be an array.")
        else:
            self.clean[field] = value

    def boolean(self, field: str, *, default: bool) -> None:
        """``boolean``: true/false, 0/1 or "0"/"1", as Laravel accepts."""
        value = self.data.get(field)
        if value is None:
            self.clean[field] = default
        elif isinstance(value, bool):
            self.clean[field] = value
        elif value in (0, 1, "0", "1"):
            self.clean[field] = value in (1, "1")
        else:
            self.fail(field, f"The {field} field must be true or false.")

    def validate(self) -> dict[str, Any]:
        """Return the cleaned fields, or raise the 422."""
        if self.errors:
            messages = [m for field_messages in self.errors.values() for m in field_messages]
            message = messages[0]
            extra = len(messages) - 1
            if extra:
                message += f" (and {extra} more error{'s' if extra > 1 else ''})"
            raise ApiError(422, message, self.errors)
        return self.clean


# The reference gives no limits; these match the firmware's name and notes, which it accepts.
DEVICE_NAME_MAX = 255
DEVICE_DESCRIPTION_MAX = 1000
FIRMWARE_NAME_MAX = 255
FIRMWARE_VERSION_MAX = 50
FIRMWARE_NOTES_MAX = 1000
FIRMWARE_MAX_BYTES = 4 * 1024 * 1024


def validate_device_update(data: dict[str, Any]) -> dict[str, Any]:
    v = Validator(data)
    v.string("name", required=True, max_len=DEVICE_NAME_MAX, sometimes=True)
    v.string("description", required=False, max_len=DEVICE_DESCRIPTION_MAX)
    return v.validate()


def validate_command(data: dict[str, Any]) -> dict[str, Any]:
    v = Validator(data)
    v.payload()
    return v.validate()


def validate_button(data: dict[str, Any]) -> dict[str, Any]:
    v = Validator(data)
    v.button_id()
    v.string("label", required=True, max_len=64)
    v.payload()
    v.boolean("confirm", default=False)
    return v.validate()


def validate_firmware_fields(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Firmware metadata; ``partial`` for PATCH, where ``name`` is only checked when sent."""
    v = Validator(data)
    v.string("name", required=True, max_len=FIRMWARE_NAME_MAX, sometimes=partial)
    v.string("version", required=False, max_len=FIRMWARE_VERSION_MAX)
    v.string("notes", required=False, max_len=FIRMWARE_NOTES_MAX)
    return v.validate()


def validate_firmware_upload(
    fields: dict[str, Any], file_bytes: bytes | None, file_sent_as_text: bool
) -> tuple[dict[str, Any], bytes]:
    """Multipart upload: metadata fields plus ``file`` (required, at most 4096 KB)."""
    v = Validator(fields)
    v.string("name", required=True, max_len=FIRMWARE_NAME_MAX)
    v.string("version", required=False, max_len=FIRMWARE_VERSION_MAX)
    v.string("notes", required=False, max_len=FIRMWARE_NOTES_MAX)
    if file_bytes is None and file_sent_as_text:
        v.fail("file", "The file field must be a file.")
    elif not file_bytes:
        # Laravel treats an empty upload like a missing one.
        v.fail("file", "The file field is required.")
    elif len(file_bytes) > FIRMWARE_MAX_BYTES:
        v.fail("file", "The file field must not be greater than 4096 kilobytes.")
    clean = v.validate()
    assert file_bytes is not None
    return clean, file_bytes


def validate_set_target(data: dict[str, Any]) -> str:
    v = Validator(data)
    v.string("md5", required=True, max_len=64)
    return v.validate()["md5"]
