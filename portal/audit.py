"""Recording what people do through the portal. Every write and every refusal goes here."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest

from portal.iot import IoTError, NotFound, RateLimited, Rejected, TokenRejected
from portal.models import AuditEvent, Profile

logger = logging.getLogger("portal.audit")


def client_ip(request: HttpRequest) -> str | None:
    # The one rule the sign-in lockout uses too (AXES_CLIENT_IP_CALLABLE), PORTAL_PROXY_COUNT.
    from portal.proxy import client_address

    return client_address(request)


def _token_label(user) -> str:
    if not getattr(user, "is_authenticated", False):
        return ""
    profile = Profile.objects.select_related("token").filter(user=user).first()
    return profile.token.label if profile and profile.token else ""


def record(
    request: HttpRequest,
    action: str,
    *,
    outcome: str = AuditEvent.Outcome.OK,
    device_uid: str = "",
    sent: dict[str, Any] | None = None,
    status_code: int | None = None,
    message: str = "",
    user=None,
    username: str | None = None,
) -> AuditEvent:
    """Append one entry. `sent` holds what the user sent (a name, a payload), never a token.

    `username` names someone who is not signed in (a failed sign-in's attempted name).
    """
    user = user if user is not None else getattr(request, "user", None)
    authenticated = getattr(user, "is_authenticated", False)
    if username is None:
        username = user.get_username() if authenticated else ""
    return AuditEvent.objects.create(
        user=user if authenticated else None,
        username=username[:150],
        ip=client_ip(request),
        token_label=_token_label(user),
        device_uid=device_uid[:100],
        action=action,
        sent=sent or {},
        outcome=outcome,
        status_code=status_code,
        message=message[:1000],
    )


def outcome_of(error: IoTError) -> str:
    """How an upstream error is filed: the upstream said no, or the upstream failed."""
    if isinstance(error, Rejected | NotFound | TokenRejected | RateLimited):
        return AuditEvent.Outcome.REJECTED
    return AuditEvent.Outcome.FAILED


def record_error(
    request: HttpRequest,
    action: str,
    error: IoTError,
    *,
    device_uid: str = "",
    sent: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append the entry for a write the device service refused or failed."""
    return record(
        request,
        action,
        outcome=outcome_of(error),
        device_uid=device_uid,
        sent=sent,
        status_code=error.status,
        message=error.message,
    )
