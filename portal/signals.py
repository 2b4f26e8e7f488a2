"""Sign-ins, failed sign-ins, lockouts and sign-outs go to the audit log.

A failed sign-in is recorded with the name that was typed, never the password (Django's
signal carries it masked, and it is not read here anyway).
"""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from portal import audit
from portal.models import AuditEvent

REFUSED = AuditEvent.Outcome.REFUSED


@receiver(user_logged_in, dispatch_uid="portal.audit_sign_in")
def _signed_in(sender, request, user, **_: object) -> None:
    if request is not None:
        audit.record(request, "auth.sign_in", user=user)


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


@receiver(user_logged_out, dispatch_uid="portal.audit_sign_out")
def _signed_out(sender, request, user, **_: object) -> None:
    if request is not None and user is not None:
        audit.record(request, "auth.sign_out", user=user)


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
