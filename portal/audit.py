"""Recording what people do through the portal. Every write and every refusal goes here.

Writes reach this through `portal.outcomes.perform`, which decides the outcome; sign-ins,
exports and commands call `record` directly. A row is always storable: every text is escaped
(NUL, lone surrogates) and cut to its column, and `sent` is a bounded copy
(`portal.storable.bounded`, about 8 KB at most), so recording a write can never fail because
of what the user typed or what the upstream answered.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, transaction
from django.http import HttpRequest

from portal import storable
from portal.iot import (
    InvalidIdentifier,
    IoTError,
    NotFound,
    NoToken,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    TokenRejected,
)
from portal.models import AuditEvent, Profile

logger = logging.getLogger("portal.audit")


def client_ip(request: HttpRequest | None) -> str | None:
    # The one rule the sign-in lockout uses too (AXES_CLIENT_IP_CALLABLE), PORTAL_PROXY_COUNT.
    from portal.proxy import client_address

    return client_address(request) if request is not None else None


def token_label_of(user) -> str:
    """The label of the token the user acts with (their profile's), or ""."""
    if not getattr(user, "is_authenticated", False):
        return ""
    profile = Profile.objects.select_related("token").filter(user=user).first()
    return profile.token.label if profile and profile.token else ""


def record(
    request: HttpRequest | None,
    action: str,
    *,
    outcome: str = AuditEvent.Outcome.OK,
    device_uid: str = "",
    device_name: str = "",
    sent: dict[str, Any] | None = None,
    status_code: int | None = None,
    message: str = "",
    user=None,
    username: str | None = None,
    ip: str | None = None,
    token_label: str | None = None,
) -> AuditEvent | None:
    """Append one entry. `sent` holds what the user sent (a name, a payload), never a token.

    `device_name` is the device's name as the page knew it (shown beside the uid, which is
    what identifies the device: the name is only what the user saw).

    `username` names someone who is not signed in (a failed sign-in's attempted name).
    Without a request (a background job), pass `user` and `ip`, and `token_label` when it is
    known already (a job reads it once, not once a row). Returns None only when the
    database itself refused the row, which is then logged in its place.
    """
    user = user if user is not None else getattr(request, "user", None)
    authenticated = getattr(user, "is_authenticated", False)
    if username is None:
        username = user.get_username() if authenticated else ""
    if status_code is not None and not 0 <= status_code <= 32767:
        status_code = None  # a PositiveSmallIntegerField; an upstream can send anything
    event = AuditEvent(
        user=user if authenticated else None,
        username=storable.text(username, 150),
        ip=ip or client_ip(request),
        token_label=storable.text(
            token_label_of(user) if token_label is None else token_label, 100
        ),
        device_uid=storable.text(device_uid, 100),
        # A name that is only the uid again (a page that knew no name) says nothing.
        device_name=(
            storable.text(device_name, 100) if device_uid and device_name != device_uid else ""
        ),
        action=storable.text(action, 50),
        sent=storable.bounded(sent),
        outcome=outcome,
        status_code=status_code,
        message=storable.text(message, 1000),
    )
    try:
        # A savepoint: a failed insert must not break the request's own transaction.
        with transaction.atomic():
            event.save()
    except DatabaseError:
        # Nothing the user typed can cause this any more (everything above is storable): the
        # database is down or full. The write already happened, so say so in the log rather
        # than answering 500 and inviting the user to send it again.
        logger.exception(
            "audit entry not stored: %s %s by %s on %s",
            event.action,
            event.outcome,
            event.username,
            event.device_uid,
            extra={"action": event.action, "outcome": event.outcome, "sent": event.sent},
        )
        return None
    return event


def outcome_of(error: IoTError) -> str:
    """How an upstream error is filed: nothing sent, the upstream said no, it failed, or
    the answer never came."""
    if isinstance(error, OutcomeUnknown):
        return AuditEvent.Outcome.UNKNOWN
    if isinstance(error, InvalidIdentifier | NoToken):
        return AuditEvent.Outcome.REFUSED
    if isinstance(error, Rejected | NotFound | TokenRejected | RateLimited):
        return AuditEvent.Outcome.REJECTED
    return AuditEvent.Outcome.FAILED
