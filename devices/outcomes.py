"""One write to the upstream, audited, and turned into what the user is told.

Every device write in the portal goes through `perform`: the upstream's answer becomes an
`Outcome` (success, its refusal as a warning, or its failure as an error) and an AuditEvent
records what was sent and what came back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest

from portal import audit
from portal.iot import IoTClient, IoTError, NotFound, RateLimited, Rejected, client_for
from portal.models import AuditEvent


@dataclass
class Outcome:
    level: str  # "success", "warning" (the upstream said no) or "error" (it failed)
    message: str
    error: IoTError | None = None
    answer: Any = None

    @property
    def ok(self) -> bool:
        return self.level == "success"

    def field_errors(self, field: str) -> list[str]:
        """The upstream's messages for one field, or its general message when it gave none."""
        if isinstance(self.error, Rejected) and self.error.errors.get(field):
            return self.error.errors[field]
        return [] if self.ok else [self.message]

    def flash(self, request: HttpRequest) -> None:
        """Carry the outcome across a redirect (the no-JavaScript path)."""
        level = {"success": messages.SUCCESS, "warning": messages.WARNING}.get(
            self.level, messages.ERROR
        )
        messages.add_message(request, level, self.message)


def perform(
    request: HttpRequest,
    action: str,
    uid: str,
    call: Callable[[IoTClient], Any],
    *,
    sent: dict[str, Any] | None = None,
    success: str = "Done.",
    status: int = 200,
) -> Outcome:
    """Make one upstream write for the signed-in user and record it in the audit log."""
    try:
        answer = call(client_for(request.user))
    except IoTError as error:
        audit.record_error(request, action, error, device_uid=uid, sent=sent)
        # A refusal (offline, no firmware assigned, duplicate id, throttled) is a normal
        # answer, shown as a warning; a failure of the service or of the token is an error.
        warning = isinstance(error, Rejected | RateLimited | NotFound)
        return Outcome("warning" if warning else "error", error.message, error=error)
    message = answer.get("message") if isinstance(answer, dict) else None
    if not isinstance(message, str) or not message:
        message = success
    audit.record(
        request,
        action,
        outcome=AuditEvent.Outcome.OK,
        device_uid=uid,
        sent=sent,
        status_code=status,
        message=message,
    )
    return Outcome("success", message, answer=answer)
