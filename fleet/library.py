"""The firmware library: a build uploaded once to the portal, then found on the fleet's devices.

A build is checked once (portal/firmware_images.py: chip, app description, version, gzip),
stored once in the database (fleet.models.BuildFile, at most 4 MB) and belongs to one token's
fleet. Adding and deleting a build are writes of the portal's own records, each one audit row
through the core's one write path (`library.upload`, `library.delete`).

Where a build is comes from two sources, both shown with their date:

- what the portal recorded: its audit rows of uploads and target settings of that md5 made
  through the firmware panel (later: the rollouts' ledgers);
- a look at the devices (`find`), on demand and bounded: one device list read, then at most
  FIND_DEVICES devices, each one detail read (current and target firmware) and one firmware
  list read (uploaded upstream). The list reads overlap on the read pool
  (portal/iot/parallel.py); the detail reads are cached reads, so they stay in the request's
  thread. Devices never looked at come first, then those looked at longest ago, so repeated
  looks cover the whole fleet.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from fleet.models import Build, BuildFile, BuildPlace
from portal import display
from portal import firmware_images as images
from portal.iot import UID_PATTERN, IoTClient, IoTError, parallel
from portal.models import ApiToken, AuditEvent, Profile
from portal.outcomes import Actor, Done, Outcome, Refused, perform

FIND_DEVICES = 10  # devices one look reads: 1 + 2 × 10 upstream reads
RECORDED_ACTIONS = ("firmware.upload", "firmware.set_target")
RECORDED_LIMIT = 200  # audit rows shown at most on a build's page
_MD5 = re.compile(r"[0-9a-f]{32}")

Who = HttpRequest | Actor


def token_of(user: Any) -> ApiToken | None:
    """The token whose fleet the user works on (the library is that fleet's), or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    profile = Profile.objects.select_related("token").filter(user=user).first()
    return profile.token if profile else None


def md5_of_file(file: IO[bytes]) -> tuple[str, bytes]:
    """The md5 of an uploaded file and its bytes (at most 4 MB: the form refused more)."""
    file.seek(0)
    content = file.read()
    file.seek(0)
    return hashlib.md5(content, usedforsecurity=False).hexdigest(), content


def add(
    actor: Who,
    token: ApiToken,
    data: dict[str, Any],
    content: bytes,
    md5: str,
    image: images.ImageCheck,
) -> Outcome:
    """Add a checked build to the fleet's library: one `library.upload` row.

    `data` is the form's cleaned data (name, version, notes, file). A build whose md5 the
    library has already is refused, and the outcome's answer is that build.
    """
    who = Actor.of(actor)
    file = data["file"]
    sent: dict[str, Any] = {
        "name": data["name"],
        "version": data["version"],
        "filename": file.name,
        "bytes": len(content),
        "md5": md5,
        "image": image.summary,
    }
    if image.warnings:
        sent["warnings_confirmed"] = list(image.warnings)

    def store() -> Done:
        existing = Build.objects.filter(token=token, md5=md5).first()
        if existing is not None:
            raise Refused(duplicate_message(existing))
        try:
            with transaction.atomic():
                build = Build.objects.create(
                    token=token,
                    name=data["name"],
                    version=data["version"],
                    notes=data["notes"],
                    filename=(file.name or "")[:255],
                    md5=md5,
                    size=len(content),
                    kind=image.kind,
                    summary=image.summary[:200],
                    chip=image.chip or "",
                    app=_app_of(image),
                    warnings=list(image.warnings),
                    uploaded_by=who.user if getattr(who.user, "is_authenticated", False) else None,
                    uploaded_by_name=who.user.get_username() if who.user else "",
                )
                BuildFile.objects.create(build=build, content=content)
        except IntegrityError:
            # Another upload of the same file won the race between the look and the insert.
            existing = Build.objects.filter(token=token, md5=md5).first()
            raise Refused(duplicate_message(existing)) from None
        message = f"Build {label(build)} added to the library (md5 {md5})."
        return Done(answer=build, message=message, sent={"build": build.pk})

    return perform(who, "library.upload", store, sent=sent, check={**sent, "notes": data["notes"]})


def duplicate_message(existing: Build | None) -> str:
    if existing is None:
        return "This file is already in the library."
    return f"This file is already in the library: {label(existing)} (md5 {existing.md5})."


def delete(actor: Who, build: Build) -> Outcome:
    """Delete a build no active rollout uses: one `library.delete` row. The copies uploaded
    to devices stay where they are (the upstream's, deleted on each device's page)."""
    sent = {"build": build.pk, "name": build.name, "version": build.version, "md5": build.md5}

    def remove() -> Done:
        with transaction.atomic():
            locked = Build.objects.select_for_update().filter(pk=build.pk).first()
            if locked is None:
                raise Refused(f"Build {label(build)} is no longer in the library.")
            if locked.in_use():
                raise Refused(f"Build {label(build)} is used by an active rollout: not deleted.")
            locked.delete()
        return Done(message=f"Build {label(build)} deleted from the library.")

    return perform(actor, "library.delete", remove, sent=sent)


def label(build: Build) -> str:
    """A build in a sentence: “its name” and version."""
    version = f" {build.version}" if build.version else ""
    return f"“{build.name}”{version}"


def _app_of(image: images.ImageCheck) -> dict[str, Any]:
    app = image.app
    if app is None:
        return {}
    return {
        "version": app.version,
        "project_name": app.project_name,
        "build_date": app.build_date,
        "build_time": app.build_time,
        "idf_version": app.idf_version,
    }


# --- where a build is -----------------------------------------------------------------------


def recorded(build: Build) -> list[AuditEvent]:
    """The portal's own records of this md5 going to devices of this fleet (newest first).

    Audit rows name the token by label (what it was called then), which is the best the log
    keeps; a pruned log knows less.
    """
    rows = AuditEvent.objects.filter(
        action__in=RECORDED_ACTIONS,
        outcome=AuditEvent.Outcome.OK,
        token_label=build.token.label,
        sent__md5=build.md5,
    )
    return list(rows[:RECORDED_LIMIT])


def md5_in(value: object) -> str:
    """The md5 of a device's current or target firmware, whatever shape it came in.

    The reference does not show these objects (API.md): an object's `md5` when it has one, a
    bare md5 string, else "" (unknown, never a guess and never an error).
    """
    if isinstance(value, dict):
        value = value.get("md5")
    if isinstance(value, str) and _MD5.fullmatch(value.strip().lower()):
        return value.strip().lower()
    return ""


@dataclass(frozen=True)
class Look:
    """What one look at the fleet did."""

    looked: int  # devices read this time
    fleet: int  # devices the token has
    never: int  # devices never looked at yet, after this look
    reads: int  # upstream reads it makes: 1 + 2 × looked (more for a paged list, a retry)


def find(client: IoTClient, build: Build, limit: int = FIND_DEVICES) -> Look:
    """Look for the build on up to `limit` devices of the fleet; BuildPlace keeps what was seen.

    Raises the device list's IoTError (nothing is known then); a device whose reads fail is
    kept with the problem and unknown flags.
    """
    devices = client.list_devices()
    # A uid no path may carry is no device the portal can read (nor link to).
    names = {
        d.uid: display.text(d.name) or d.uid
        for d in devices
        if d.uid and UID_PATTERN.fullmatch(d.uid)
    }
    seen = dict(build.places.values_list("device_uid", "checked_at"))
    recorded_uids = {row.device_uid for row in recorded(build)}

    def order(uid: str) -> tuple:
        last = seen.get(uid)
        # Never looked at first (those the portal's records name before the others), then
        # the longest ago.
        return (last is not None, uid not in recorded_uids, last or timezone.now())

    chosen = sorted(names, key=order)[: max(limit, 0)]
    lists = {uid: parallel.start(client.list_firmwares, uid) for uid in chosen}
    now = timezone.now()
    for uid in chosen:
        _look_at(client, build, uid, names[uid], lists[uid], now)
    # Devices the token no longer has are no longer anywhere.
    build.places.exclude(device_uid__in=list(names)).delete()
    build.checked_at = now
    # An update, not a save: a build deleted meanwhile is no error here.
    Build.objects.filter(pk=build.pk).update(checked_at=now)
    never = sum(1 for uid in names if uid not in seen and uid not in chosen)
    return Look(looked=len(chosen), fleet=len(names), never=never, reads=1 + 2 * len(chosen))


def _look_at(
    client: IoTClient,
    build: Build,
    uid: str,
    name: str,
    listing: parallel.Pending[list[dict[str, Any]]],
    now: Any,
) -> None:
    values: dict[str, Any] = {"device_name": name[:100], "checked_at": now, "problem": ""}
    problems: list[str] = []
    try:
        detail = client.get_device(uid)
    except IoTError as error:
        listing.cancel()
        detail = None
        problems.append(f"Detail: {error.message}")
    if isinstance(detail, dict):
        current, target = (
            md5_in(detail.get("current_firmware")),
            md5_in(detail.get("target_firmware")),
        )
        # A field that is absent or of an unknown shape says nothing: unknown, not "no".
        values["running"] = (
            (current == build.md5) if current else _none_if_set(detail, "current_firmware")
        )
        values["target"] = (
            (target == build.md5) if target else _none_if_set(detail, "target_firmware")
        )
        values["device_name"] = (display.text(detail.get("name")) or name)[:100]
    else:
        values.update(running=None, target=None)
    values.update(uploaded=None, firmware_id="")
    if detail is not None or not problems:
        try:
            firmwares = listing.result()
        except IoTError as error:
            problems.append(f"Firmware list: {error.message}")
        else:
            match = next(
                (fw for fw in firmwares if isinstance(fw, dict) and md5_in(fw) == build.md5), None
            )
            values["uploaded"] = match is not None
            values["firmware_id"] = str(match.get("id", ""))[:20] if match else ""
    if values.get("target") and values["uploaded"] is None:
        values["uploaded"] = True  # a device's target is one of its uploaded firmwares
    values["problem"] = " ".join(problems)[:500]
    BuildPlace.objects.update_or_create(build=build, device_uid=uid, defaults=values)


def _none_if_set(detail: dict[str, Any], field: str) -> bool | None:
    """False when the detail says the device has no such firmware (null), else None."""
    return False if field in detail and detail[field] is None else None
