"""Failed sign-ins go to the audit log, like every other refused attempt.

The typed username is kept (it may be a typo of a real one, or someone guessing); the
password never is. Successful sign-ins are not recorded here: the sessions say who is in.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest

from portal import audit
from portal.models import AuditEvent


def record_failed_sign_in(
    sender: object, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any
) -> None:
    if request is None:  # authenticate() called outside a request: a script, not a sign-in
        return
    locked = bool(getattr(request, "axes_locked_out", False))
    audit.record(
        request,
        "sign-in",
        outcome=AuditEvent.Outcome.REFUSED,
        sent={"username": str(credentials.get("username", ""))[:150]},
        message=(
            "Locked out after too many failed sign-ins."
            if locked
            else "Wrong username or password."
        ),
    )


def connect() -> None:
    user_login_failed.connect(record_failed_sign_in, dispatch_uid="portal.failed_sign_in")
