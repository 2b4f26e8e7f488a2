"""Failed sign-ins and lockouts go to the audit log (portal.views records sign-ins and
sign-outs made through the pages, so a test's force_login adds no entry).

A failed sign-in is recorded with the name that was typed, never the password (Django's
signal carries it masked, and it is not read here anyway).
"""

from __future__ import annotations

from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from portal import audit
from portal.models import AuditEvent

REFUSED = AuditEvent.Outcome.REFUSED


@receiver(user_login_failed, dispatch_uid="portal.audit_sign_in_failed")
def _sign_in_failed(sender, credentials, request=None, **_: object) -> None:
    if request is None:
        return
    attempted = str((credentials or {}).get("username", ""))
    locked = getattr(request, "axes_locked_out", False)
    message = (
        "Refused: sign-in is paused after repeated failures."
        if locked
        else "Wrong username or password."
    )
    audit.record(
        request, "auth.sign_in_failed", outcome=REFUSED, username=attempted, message=message
    )


def _locked_out(sender, request, username, ip_address, **_: object) -> None:
    if request is not None:
        audit.record(
            request,
            "auth.lockout",
            outcome=REFUSED,
            username=str(username or ""),
            message="Sign-in paused for this username and address after repeated failures.",
        )


def connect_axes() -> None:
    from axes.signals import user_locked_out

    user_locked_out.connect(_locked_out, dispatch_uid="portal.audit_lockout")
