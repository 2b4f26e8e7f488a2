"""The portal's own records: the token vault, who uses which token, and the audit log."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal import crypto, storable
from portal.audit_actions import words
from portal.roles import PERMISSIONS


class ApiToken(models.Model):
    """An upstream API token, encrypted at rest.

    The plaintext is only ever held in memory, by `value()`, for the length of an upstream
    call. After entry only `hint` (the last four characters) is shown to anyone.
    """

    label = models.CharField(max_length=100, unique=True)
    ciphertext = models.TextField(editable=False)
    hint = models.CharField(max_length=4, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    verified_ok = models.BooleanField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # Set when a user entered this token for themselves on "My API token".
    personal_for = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="personal_token",
    )

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return f"{self.label} (…{self.hint})"

    def __repr__(self) -> str:
        return f"<ApiToken {self.pk} {self.label!r} …{self.hint}>"

    def set_value(self, plaintext: str) -> None:
        plaintext = plaintext.strip()
        if not plaintext:
            raise ValueError("A token cannot be empty.")
        problem = storable.token_problem(plaintext)
        if problem:
            raise ValueError(problem)
        self.ciphertext = crypto.encrypt(plaintext)
        self.hint = plaintext[-4:]

    def value(self) -> str:
        """The plaintext. Raises crypto.TokenUndecryptable when no configured key can read it."""
        return crypto.decrypt(self.ciphertext)

    def readable(self) -> bool:
        """Whether a configured key can decrypt this token (the plaintext is dropped at once)."""
        try:
            self.value()
        except crypto.TokenUndecryptable:
            return False
        return True

    @property
    def status(self) -> str:
        """unverified, ok, rejected or unknown (the last check could not reach the service)."""
        if self.last_verified_at is None:
            return "unverified"
        if self.verified_ok is None:
            return "unknown"
        return "ok" if self.verified_ok else "rejected"


class Profile(models.Model):
    """A portal user's link to the one token they work with (many users may share one)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portal_profile"
    )
    token = models.ForeignKey(
        ApiToken, null=True, blank=True, on_delete=models.PROTECT, related_name="profiles"
    )
    # Set by an admin: every page sends this user to "Change your password" until they do
    # (portal.middleware.PasswordChangeRequiredMiddleware).
    must_change_password = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.user} → {self.token or 'no token'}"


class Access(models.Model):
    """Holds the portal's permissions (one per action); it stores no rows."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [(code, action) for code, (action, _) in PERMISSIONS.items()]

    def __str__(self) -> str:
        return "portal access"


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("Audit entries are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit entries are append-only; use manage.py prune_audit.")

    def prune_before(self, cutoff) -> int:
        """The one way entries leave the log: retention, by `manage.py prune_audit`."""
        deleted, _ = models.QuerySet.delete(self.filter(at__lt=cutoff))
        return deleted


class AuditEvent(models.Model):
    """One thing someone did or tried through the portal. Append-only."""

    class Outcome(models.TextChoices):
        OK = "ok", "Succeeded"
        REJECTED = "rejected", "Rejected by the device service"
        FAILED = "failed", "Device service failed"
        REFUSED = "refused", "Refused by the portal"
        # The write was sent but its answer never came: it may or may not have happened.
        UNKNOWN = "unknown", "Outcome unknown"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    token_label = models.CharField(max_length=100, blank=True)
    device_uid = models.CharField(max_length=100, blank=True, db_index=True)
    # The device's name as the page knew it when the row was written (a rename: the old
    # name): the upstream's name changes, the row must still read as it did that day.
    device_name = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=50, db_index=True)
    sent = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, db_index=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.CharField(max_length=1000, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.outcome}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit entries are append-only; use manage.py prune_audit.")

    @property
    def action_words(self) -> str:
        """The action as the log reads it ("Renamed device"); the code stays in `action`."""
        return words(self.action)


class ReadGeneration(models.Model):
    """The current generation of one token's cached reads, where every worker sees it.

    The read cache is per process when it is local memory (no REDIS_URL): a write clearing
    one worker's generation would leave the others serving reads from before it. Kept in the
    database instead, every worker of every instance reads the same generation (one query by
    primary key per cached read), so a write is visible on the next read from any of them.
    """

    key = models.CharField(max_length=64, primary_key=True)  # the token's cache id
    tag = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"{self.key}:{self.tag}"


class UsedFormKey(models.Model):
    """A one-time form key a write has used (portal.form_keys): a second write carrying the
    same key (a double click, a retried request, a browser's resubmit) is refused.

    Kept in the database, not the cache: every worker and instance must see the same set,
    and the primary key makes "used once" one atomic insert. Rows older than a key can be
    (form_keys.MAX_AGE) are dropped, since such a key is refused as too old anyway.
    """

    key = models.CharField(max_length=32, primary_key=True)  # the key's random part
    used_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.key
