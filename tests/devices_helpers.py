"""Small helpers the device tests share."""

from __future__ import annotations

from emulator.pytest_plugin import TOKEN_A
from portal.models import AuditEvent

HTMX = {"HX-Request": "true"}


def uid_of(emulator, name: str) -> str:
    return emulator.device_uid(TOKEN_A, name)


def upstream_calls(emulator, method: str | None = None, suffix: str = "") -> list[dict]:
    """API requests the emulator received, optionally of one method and path ending."""
    return [
        entry
        for entry in emulator.request_log
        if (method is None or entry["method"] == method) and entry["path"].endswith(suffix)
    ]


def last_audit() -> AuditEvent:
    return AuditEvent.objects.order_by("-id").first()
