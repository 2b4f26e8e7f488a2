"""Business rules for accounts and tokens that views and commands share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone

from portal import storable
from portal.models import ApiToken, Profile
from portal.roles import Role


def set_role(user: User, role: Role | None) -> None:
    """Give a user exactly one role (or none)."""
    role_groups = Group.objects.filter(name__in=[r.value for r in Role])
    user.groups.remove(*role_groups)
    if role is not None:
        user.groups.add(Group.objects.get(name=role.value))
    if hasattr(user, "_portal_role"):
        del user._portal_role
    # Django caches permissions on the user object; drop them so checks see the new role.
    for attr in ("_perm_cache", "_user_perm_cache", "_group_perm_cache", "_portal_can"):
        user.__dict__.pop(attr, None)


def assign_token(user: User, token: ApiToken | None) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    profile.token = token
    profile.save(update_fields=["token"])
    user.portal_profile = profile  # the user object's loaded profile (portal.backends) follows
    return profile


@transaction.atomic
def save_token(label: str, plaintext: str, created_by: User | None = None) -> ApiToken:
    """Create a token, or replace the value of the one with this label."""
    token = ApiToken.objects.filter(label=label).first() or ApiToken(
        label=label, created_by=created_by
    )
    token.set_value(plaintext)
    token.save()
    return token


# --- The token vault ----------------------------------------------------------------------


class TokenInUse(Exception):
    """A token cannot be deleted while users are mapped to it."""


def verify_token(token: ApiToken) -> ApiToken:
    """Check a token against the upstream with one device-list read, and keep the result.

    `verified_ok` is True (the upstream accepted it), False (it refused the token) or None
    (the check itself failed: unreachable, throttled, or no key can read the token).
    """
    from portal.crypto import TokenUndecryptable
    from portal.iot import IoTClient, IoTError, TokenRejected

    try:
        # No cache id: the check must reach the upstream, not a cached list.
        IoTClient(token.value()).list_devices()
    except TokenUndecryptable:
        token.verified_ok, token.last_error = None, UNREADABLE
    except TokenRejected:
        # Said to the admin reading the token pages (the users' pages say "ask an admin").
        token.verified_ok, token.last_error = False, REJECTED
    except IoTError as error:
        token.verified_ok, token.last_error = None, storable.text(error.message, 500)
    else:
        token.verified_ok, token.last_error = True, ""
    token.last_verified_at = timezone.now()
    token.save(update_fields=["verified_ok", "last_error", "last_verified_at", "updated_at"])
    return token


REJECTED = "Rejected by the device service: replace the value, or check it with the vendor."
UNREADABLE = (
    "No configured key can decrypt this token: restore the key in PORTAL_TOKEN_KEYS "
    "or enter the token's value again."
)


def _forget_cached_reads(token: ApiToken) -> None:
    from portal.iot import IoTClient

    IoTClient("", cache_id=token.pk).invalidate()


def add_token(label: str, plaintext: str, created_by: User | None) -> ApiToken:
    """Store a new token and verify it. A token the upstream rejects is kept, flagged."""
    token = ApiToken(label=label, created_by=created_by)
    token.set_value(plaintext)
    token.save()
    return verify_token(token)


def replace_token_value(token: ApiToken, plaintext: str) -> ApiToken:
    token.set_value(plaintext)
    token.last_verified_at, token.verified_ok, token.last_error = None, None, ""
    token.save()
    _forget_cached_reads(token)
    return verify_token(token)


def relabel_token(token: ApiToken, label: str) -> ApiToken:
    token.label = label
    token.save(update_fields=["label", "updated_at"])
    return token


def delete_token(token: ApiToken) -> None:
    if token.profiles.exists():
        raise TokenInUse(f"“{token.label}” is still assigned to users; reassign them first.")
    _forget_cached_reads(token)
    token.delete()


def _free_label(wanted: str) -> str:
    label, n = wanted[:100], 2
    while ApiToken.objects.filter(label=label).exists():
        label = f"{wanted[:95]} ({n})"
        n += 1
    return label


def save_personal_token(user: User, plaintext: str) -> ApiToken:
    """A user's own token ("My API token"): stored like any other, mapped to them, verified."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(personal_for=user).first()
        if token is None:
            token = ApiToken(
                label=_free_label(f"{user.get_username()} (own token)"),
                created_by=user,
                personal_for=user,
            )
        token.set_value(plaintext)
        token.last_verified_at, token.verified_ok, token.last_error = None, None, ""
        token.save()
        assign_token(user, token)
    _forget_cached_reads(token)
    return verify_token(token)


# --- Users --------------------------------------------------------------------------------


@transaction.atomic
def create_user(username: str, password: str, role: Role | None, token: ApiToken | None) -> User:
    user = User.objects.create_user(username, password=password)
    set_role(user, role)
    assign_token(user, token)
    return user


def set_active(user: User, active: bool) -> None:
    """Deactivate or reactivate. An inactive user's sessions stop working at once."""
    user.is_active = active
    user.save(update_fields=["is_active"])


def require_password_change(user: User, required: bool) -> Profile:
    """Send the user to "Change your password" on every page until they have (or not)."""
    profile, _ = Profile.objects.get_or_create(user=user)
    profile.must_change_password = required
    profile.save(update_fields=["must_change_password"])
    user.portal_profile = profile
    return profile


def change_own_password(user: User, form) -> None:
    """Save a PasswordChangeForm and drop the "must change" flag, in one transaction."""
    with transaction.atomic():
        form.save()
        Profile.objects.filter(user=user, must_change_password=True).update(
            must_change_password=False
        )
    profile = getattr(user, "portal_profile", None) if hasattr(user, "portal_profile") else None
    if profile is not None:
        profile.must_change_password = False


# --- Sign-in lockouts (django-axes) -------------------------------------------------------


@dataclass(frozen=True)
class Lockout:
    """A username and address whose sign-ins django-axes refuses now.

    `since` is when the pause began (the first lockout entry of this run in the audit log,
    or the last failure when there is none); `until` is when it ends if nobody tries again:
    django-axes starts the cool-off again at every attempt made during it.
    """

    username: str
    ip: str | None
    failures: int
    since: datetime
    until: datetime


def lockouts() -> list[Lockout]:
    """Every locked-out username and address, the latest first."""
    from axes.models import AccessAttempt

    from portal.models import AuditEvent

    cool_off: timedelta = settings.AXES_COOLOFF_TIME
    now = timezone.now()
    # django-axes counts the failures of one username and address over every user agent,
    # each record only while its last failure is within the cool-off.
    rows = (
        AccessAttempt.objects.filter(attempt_time__gte=now - cool_off)
        .values("username", "ip_address")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
        .order_by("-last")
    )
    found = []
    for row in rows:
        username, ip, last = row["username"] or "", row["ip_address"], row["last"]
        entries = AuditEvent.objects.filter(
            Q(action="auth.lockout", username=username, ip=ip)
            | Q(action="auth.lockout_lift", sent__username=username, sent__ip=ip or "")
        ).values_list("at", "action")[:500]
        found.append(
            Lockout(
                username, ip, row["failures"], _run_start(entries, last, cool_off), last + cool_off
            )
        )
    return found


def _run_start(entries, last: datetime, cool_off: timedelta) -> datetime:
    """The first lockout entry of the current run: walking back from the newest, a run ends
    at a lift, or at a gap longer than the cool-off (the previous pause had ended)."""
    since, later = last, last
    for at, action in entries:  # newest first
        if action == "auth.lockout_lift" or later - at > cool_off:
            break
        since = later = at
    return since


def lift_lockout(username: str, ip: str | None) -> int:
    """Forget the failures of one username and address: they may sign in again at once."""
    from axes.utils import reset

    if ip:
        return reset(ip=ip, username=username)
    from axes.models import AccessAttempt

    deleted, _ = AccessAttempt.objects.filter(username=username, ip_address=None).delete()
    return deleted
