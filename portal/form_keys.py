"""One-time form keys: a write form sent twice does its write once.

Every write form carries a fresh key in a hidden field (`{% form_key %}`, from
portal_tags), rendered with the form: each form the server draws, page or htmx swap, has
its own. The write path (`portal.outcomes.perform`) uses the key up just before the write
is made: a second write with the same key (a double click, a request the browser retried,
a form resubmitted from the history) is refused, with one `refused` audit row, and nothing
reaches the upstream.

A key is a random value signed with a timestamp (Django's TimestampSigner): the portal
accepts only keys it made, and none older than MAX_AGE, so the set of used keys stays
bounded. Keys are not tied to a session: a page whose session ended can send its form after
its user signed in again (in another tab), and it is still sent once.

A form that stays on the page after an htmx write (Reboot, a command button) gets its next
key in the answer's `X-Form-Key` header (FormKeyMiddleware; the portal's script puts it in
place). Writes without a request (fleet jobs, `Actor`) have no form and no key.
"""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

from django.core import signing
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

FIELD = "form_key"
HEADER = "X-Form-Key"  # the next key, on the answer to an htmx write
MAX_AGE = 7 * 24 * 3600  # a page left open a week must be reloaded before it writes
SALT = "portal.form_keys"
PURGE_CHANCE = 0.02  # one write in fifty drops the keys too old to matter

ALREADY_SENT = "Already sent: this form was submitted once; nothing was sent again."
MISSING = (
    "This form has no valid form key (a page from before an update, or not from the "
    "portal): reload the page and send it again. Nothing was sent."
)
TOO_OLD = "This form is more than a week old: reload the page and send it again. Nothing was sent."


def new(secret_key: str | None = None) -> str:
    """A fresh key for one form (signed with SECRET_KEY, or a test's portal's own key)."""
    fallbacks = [] if secret_key else None  # a given key needs no settings at all
    signer = signing.TimestampSigner(key=secret_key, fallback_keys=fallbacks, salt=SALT)
    return signer.sign(secrets.token_urlsafe(16))


def of(request: HttpRequest) -> str:
    """The key a request carries ("" for none, or a body that cannot be read)."""
    try:
        source = request.POST if request.method == "POST" else request.GET
        value = source.get(FIELD, "")
    except (SuspiciousOperation, OSError, ValueError):
        return ""  # a body too big or broken: no key, so the write is refused
    return value if isinstance(value, str) else ""


def use(value: str) -> str | None:
    """Use the key up: None when it was fresh, else the sentence refusing the write."""
    try:
        nonce = signing.TimestampSigner(salt=SALT).unsign(value, max_age=MAX_AGE)
    except signing.SignatureExpired:
        return TOO_OLD
    except signing.BadSignature:
        return MISSING
    now = timezone.now()
    from portal.models import UsedFormKey

    try:
        # Its own transaction: the insert is the atomic "first use" (two concurrent
        # requests with the same key cannot both succeed), whatever the caller's state.
        with transaction.atomic():
            UsedFormKey.objects.create(key=nonce[:32], used_at=now)
    except IntegrityError:
        return ALREADY_SENT
    if random.random() < PURGE_CHANCE:
        UsedFormKey.objects.filter(used_at__lt=now - timedelta(seconds=MAX_AGE)).delete()
    return None
