"""Tags: the portal's own labels on devices, per token's fleet (the upstream has none).

A tag belongs to the fleet of one API token: users mapped to the same token share its tags,
and a user mapped to another token never sees them. Names are compared without regard to case
("Greenhouse" and "greenhouse" are one tag); the first spelling is the one kept and shown.

Adding and removing a tag on a device are writes like any other: each goes through the core's
one write path (`portal.outcomes.perform`), with one audit row (`tag.add`, `tag.remove`). The
reads (`of_devices`, `uids_with`, `of_fleet`) are one query each: the device table asks for
the tags of the 50 devices of its page at once.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.db.models import Count, Value
from django.db.models.functions import Lower
from django.http import HttpRequest

from fleet.models import DeviceTag, Tag
from portal import storable
from portal.models import ApiToken
from portal.outcomes import SUCCESS, WARNING, Actor, Done, Outcome, Refused, perform
from portal.precompiled import Precompiled

MAX_LENGTH = 40
ADD, REMOVE = "tag.add", "tag.remove"
# What a write came to: a change, or (a warning) nothing to change.
ADDED, ALREADY = "Tag added.", "It already has this tag; nothing changed."
REMOVED, NOT_THERE = "Tag removed.", "It does not have this tag; nothing changed."


def token_of(user: Any) -> ApiToken | None:
    """The token whose fleet the user works on (their mapped token), or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    profile = getattr(user, "portal_profile", None)  # loaded with the user (portal.backends)
    return profile.token if profile is not None else None


def normalise(name: object) -> str:
    """A tag name as typed, stripped of the spaces around it (and runs of spaces inside)."""
    if not isinstance(name, str):
        return ""
    return " ".join(name.split()) if len(name) <= storable.MAX_TEXT else name.strip()


def problem(name: str) -> str | None:
    """Why `name` (normalised) cannot be a tag, in a sentence, or None."""
    if not name:
        return "A tag needs a name."
    found = storable.problem(name)
    if found:
        return f"The tag {found}."
    if len(name) > MAX_LENGTH:
        return f"A tag is at most {MAX_LENGTH} characters; this one has {len(name):,}."
    # Control and format characters (a newline, a bidi override) would show as nothing or
    # reorder the text around them: a tag is a short visible label.
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        return "A tag cannot contain control characters (a newline, a tab, a bidi mark…)."
    return None


def _find(token: ApiToken, name: str) -> Tag | None:
    # Lower() in the database on both sides: the same rule as the unique constraint.
    return (
        Tag.objects.annotate(key=Lower("name")).filter(token=token, key=Lower(Value(name))).first()
    )


def apply_add(token: ApiToken, uid: str, name: str) -> str:
    """Tag the device (no audit row: the caller's write path records it); the message."""
    with transaction.atomic():
        tag = _find(token, name)
        if tag is None:
            try:
                with transaction.atomic():
                    tag = Tag.objects.create(token=token, name=name)
            except IntegrityError:  # made meanwhile by another request
                tag = _find(token, name)
                if tag is None:
                    raise Refused("The tag could not be saved: try again.") from None
        _, created = DeviceTag.objects.get_or_create(tag=tag, device_uid=uid)
    return ADDED if created else ALREADY


def apply_remove(token: ApiToken, uid: str, name: str) -> str:
    """Untag the device; a tag left on no device goes too. The message."""
    with transaction.atomic():
        tag = _find(token, name)
        deleted = tag.devices.filter(device_uid=uid).delete()[0] if tag else 0
        if tag is not None and not tag.devices.exists():
            tag.delete()
    return REMOVED if deleted else NOT_THERE


def _write(
    action: str,
    actor: HttpRequest | Actor,
    token: ApiToken | None,
    uid: str,
    name: object,
    device_name: str | None,
    device_check: Callable[[], object] | None,
) -> Outcome:
    typed = name if isinstance(name, str) else ""
    tag = normalise(typed)
    sent: dict[str, Any] = {"tag": tag}

    def write() -> Done:
        if token is None:
            raise Refused("No API token is mapped to your account, so it has no fleet to tag.")
        found = problem(tag)
        if found:
            raise Refused(found, errors={"tag": [found]})
        if device_check is not None:
            device_check()  # the device is the fleet's (an upstream read, usually cached)
        apply = apply_add if action == ADD else apply_remove
        said = apply(token, uid, tag)
        level = SUCCESS if said in (ADDED, REMOVED) else WARNING
        return Done(message=said, level=level, sent={"fleet": token.label})

    # `check`: the portal's own records are written, not the upstream; the name's own
    # problems (too long, control characters) are the call's refusal, with the same one row.
    return perform(
        actor, action, write, device_uid=uid, device_name=device_name, sent=sent,
        check={"tag": tag},
    )  # fmt: skip


def add(
    actor: HttpRequest | Actor,
    token: ApiToken | None,
    uid: str,
    name: object,
    *,
    device_name: str | None = None,
    device_check: Callable[[], object] | None = None,
) -> Outcome:
    """Add the tag `name` to device `uid` of the token's fleet: one `tag.add` audit row.

    `device_check` runs first inside the write (it raises an IoTError for a device the
    token does not have): the row then says why nothing was tagged."""
    return _write(ADD, actor, token, uid, name, device_name, device_check)


def remove(
    actor: HttpRequest | Actor,
    token: ApiToken | None,
    uid: str,
    name: object,
    *,
    device_name: str | None = None,
    device_check: Callable[[], object] | None = None,
) -> Outcome:
    """Remove the tag `name` from device `uid`: one `tag.remove` audit row."""
    return _write(REMOVE, actor, token, uid, name, device_name, device_check)


def of_device(token: ApiToken | None, uid: str) -> list[str]:
    """The device's tags, by name."""
    return of_devices(token, [uid]).get(uid, [])


class _Slotted(Precompiled):
    """A precompiled query on a token id and up to SLOTS uids (portal/precompiled.py): the
    device table runs it on every page, and compiling it cost more than running it."""

    def rows_for(self, token_id: int, uids: list[str]) -> list[tuple[Any, ...]]:
        compiled = self._compiled(DEFAULT_DB_ALIAS)
        values: dict[Any, Any] = {self.placeholder: token_id}
        values.update(zip(_UID_MARKS, [*uids, *[""] * (SLOTS - len(uids))], strict=True))
        params = tuple(values.get(p, p) if isinstance(p, str | int) else p for p in compiled.params)
        with compiled.connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            return list(cursor.fetchall())


SLOTS = 50  # uids per query; "" pads the rest (no device has an empty uid)
_UID_MARKS = tuple(f"\x01uid-slot-{n}" for n in range(SLOTS))
_PAGE_TAGS = _Slotted(
    lambda token_id: DeviceTag.objects.filter(
        tag__token_id=token_id, device_uid__in=_UID_MARKS
    ).values_list("device_uid", "tag__name")
)
_NAMES = Precompiled(
    lambda token_id: Tag.objects.filter(token_id=token_id).order_by().values_list("name")
)


def of_devices(token: ApiToken | None, uids: Iterable[str]) -> dict[str, list[str]]:
    """Each device's tags, by name, for many devices in one query (a table page's 50)."""
    # A uid no device can have (a NUL from the address) would fail the query on PostgreSQL.
    wanted = list(dict.fromkeys(uid for uid in uids if uid and not storable.problem(uid)))
    if token is None or not wanted:
        return {}
    found: dict[str, list[str]] = {}
    for start in range(0, len(wanted), SLOTS):
        for uid, name in _PAGE_TAGS.rows_for(token.pk, wanted[start : start + SLOTS]):
            found.setdefault(uid, []).append(name)
    for names in found.values():
        names.sort(key=str.casefold)  # here: cheaper than Lower() in the query
    return found


def uids_with(token: ApiToken | None, name: str) -> set[str]:
    """The uids of the devices that have the tag (case does not matter)."""
    if token is None or not name or storable.problem(name):
        return set()  # a NUL would fail the query on PostgreSQL; no tag holds one anyway
    return set(
        DeviceTag.objects.annotate(key=Lower("tag__name"))
        .filter(tag__token=token, key=Lower(Value(name)))
        .values_list("device_uid", flat=True)
    )


def names(token: ApiToken | None) -> list[str]:
    """The fleet's tag names, for a filter's choices and a field's suggestions (no counts:
    the device table draws them on every full page)."""
    if token is None:
        return []
    return sorted((name for (name,) in _NAMES.rows(token.pk)), key=str.casefold)


def of_fleet(token: ApiToken | None) -> list[tuple[str, int]]:
    """The fleet's tags and how many devices have each, by name."""
    if token is None:
        return []
    # An aggregate ignores Meta.ordering: the order is said again.
    rows = (
        Tag.objects.filter(token=token)
        .annotate(n=Count("devices"))
        .order_by(Lower("name"))
        .values_list("name", "n")
    )
    return [(name, n) for name, n in rows if n]
