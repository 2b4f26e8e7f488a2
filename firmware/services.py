"""Firmware rules the views share: hashing while streaming, finding by md5, following an OTA."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import IO, Any

# Upstream `meta.ota_status` values, as far as the emulator and the reference tell.
_OTA_ERRORS = {"error", "failed", "failure", "aborted"}
_OTA_BUSY = {"downloading", "updating", "in_progress", "flashing"}


class HashingReader:
    """A read-only file handle that computes the md5 of everything read through it.

    The upload streams the file through this, so the portal's md5 costs no second pass.
    """

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._md5.update(chunk)
        self.bytes_read += len(chunk)
        return chunk

    def tell(self) -> int:
        return self._file.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        # Only size probes (seek to the end and back) are expected before reading starts.
        return self._file.seek(offset, whence)

    def finish(self) -> str:
        """Read whatever the upload left unread, and return the md5 of the whole file."""
        while self.read(64 * 1024):
            pass
        return self.hexdigest()

    def hexdigest(self) -> str:
        return self._md5.hexdigest()


def head_of(file: IO[bytes], count: int) -> bytes:
    """The first `count` bytes of an uploaded file, leaving it at its start."""
    file.seek(0)
    head = file.read(count)
    file.seek(0)
    return head


def md5_of(firmware: dict[str, Any] | None) -> str:
    value = (firmware or {}).get("md5") if isinstance(firmware, dict) else None
    return value.lower() if isinstance(value, str) else ""


def find_by_md5(firmwares: list[dict[str, Any]], md5: str) -> dict[str, Any] | None:
    md5 = md5.lower()
    return next((fw for fw in firmwares if md5_of(fw) == md5), None)


def find_by_id(firmwares: list[dict[str, Any]], firmware_id: int) -> dict[str, Any] | None:
    return next((fw for fw in firmwares if str(fw.get("id")) == str(firmware_id)), None)


@dataclass(frozen=True)
class OtaProgress:
    """Where a device is after an OTA trigger, as its detail tells."""

    state: str  # "waiting", "downloading", "done", "error", "timed-out"
    message: str

    @property
    def finished(self) -> bool:
        return self.state in ("done", "error", "timed-out")


def ota_progress(device: dict[str, Any], elapsed: float, limit: float) -> OtaProgress:
    """Read a device's detail after an OTA trigger.

    Done when its current firmware is its target and it isn't busy; an error when its meta
    says so; timed out after `limit` seconds; otherwise waiting (or downloading, when the
    upstream reports it).
    """
    meta = device.get("meta") if isinstance(device.get("meta"), dict) else {}
    status = str(meta.get("ota_status") or "").lower()
    current, target = md5_of(device.get("current_firmware")), md5_of(device.get("target_firmware"))
    if status in _OTA_ERRORS or meta.get("ota_error"):
        detail = meta.get("ota_error") if isinstance(meta.get("ota_error"), str) else ""
        return OtaProgress("error", detail or f"The device reported an OTA error ({status}).")
    if target and current == target and status not in _OTA_BUSY:
        fw = device.get("current_firmware") or {}
        label = " ".join(str(fw.get(k)) for k in ("name", "version") if fw.get(k))
        return OtaProgress(
            "done", f"The device now runs its target firmware{': ' + label if label else ''}."
        )
    if elapsed > limit:
        return OtaProgress(
            "timed-out",
            f"The device has not reached its target firmware after {limit:g} s. "
            "It may still update later: check its page again.",
        )
    if status in _OTA_BUSY:
        return OtaProgress("downloading", "The device is downloading the new firmware…")
    return OtaProgress("waiting", "Waiting for the device to start the update…")
