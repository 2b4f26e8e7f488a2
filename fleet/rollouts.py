"""Staged rollouts: planning them and steering them, what the pages call.

fleet/rollout_engine.py runs them (the per-device steps, the waves, the threshold); this
module makes and changes the rollout's own records. Each public function here is one write of
the portal's own records through the core's one write path, so each has its one audit row
(`rollout.plan`, `rollout.start`, `rollout.approve`, `rollout.pause`, `rollout.resume`,
`rollout.abort`, `rollout.promote`, `rollout.rollback`), and returns its `Outcome`.

Planning reads each chosen device's detail (one budgeted read each, fleet.budget.slot):
devices whose chip does not match the build's image are excluded, devices already running the
build's md5 are skipped (in a rollback, only if their target is that build too: the others
have their target set back), both kept on the rollout with the reason; the rest are shared
into waves (a canary of N, then cumulative percentages).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest
from django.utils import timezone

from fleet import budget
from fleet.library import label, md5_in
from fleet.models import Build, Rollout, Step, Target, Wave
from portal import display
from portal import firmware_images as images
from portal.iot import IoTClient, IoTError, RateLimited
from portal.models import ApiToken
from portal.outcomes import Actor, Done, Outcome, Refused, perform

Who = HttpRequest | Actor
TARGET_ONLY = "Already runs the build, its target upstream is another: only the target is set back."
ADVANCE = "fleet.tasks.advance_rollout"


def enqueue(rollout: Rollout, run_after: datetime | None = None) -> None:
    """Hand the rollout to a worker once the transaction that changed it has committed."""
    from fleet.tasks import advance_rollout

    def go() -> None:
        task = advance_rollout.using(run_after=run_after) if run_after else advance_rollout
        task.enqueue(rollout.pk)

    transaction.on_commit(go)


def client_of(token: ApiToken | None) -> IoTClient | None:
    """The token's client, its value decrypted in memory only (None: gone or unreadable)."""
    if token is None:
        return None
    try:
        return IoTClient(token.value(), cache_id=token.pk)
    except Exception:
        return None


def _user(who: Actor) -> tuple[Any, str]:
    user = who.user if getattr(who.user, "is_authenticated", False) else None
    return user, user.get_username() if user else ""


# --- planning -------------------------------------------------------------------------------


def wave_sizes(count: int, canary: int, percents: Sequence[int]) -> list[tuple[int | None, int]]:
    """(percent or None for the canary, size) of each non-empty wave for `count` devices."""
    waves: list[tuple[int | None, int]] = []
    done = min(max(canary, 0), count)
    if done:
        waves.append((None, done))
    for percent in percents:
        upto = min(count, max(done, math.ceil(count * percent / 100)))
        if upto > done:
            waves.append((percent, upto - done))
            done = upto
    if done < count:  # rounding: the rest goes with the last wave
        if waves:
            waves[-1] = (waves[-1][0], waves[-1][1] + count - done)
        else:
            waves.append((100, count))
    return waves


def check_percents(percents: Sequence[int]) -> str:
    """Why these wave percentages cannot be used, or ""."""
    if not percents:
        return "Give at least one wave (e.g. 100 %)."
    if any(not isinstance(p, int) or not 1 <= p <= 100 for p in percents):
        return "Each wave is a share from 1 to 100 %."
    if list(percents) != sorted(set(percents)):
        return "Each wave must bring the share done higher than the one before."
    if percents[-1] != 100:
        return "The last wave must reach 100 %."
    return ""


def mismatch(build: Build | None, detail: dict[str, Any]) -> str:
    """Why this build's image does not fit this device, or "" (fits, or cannot be told)."""
    if build is None:
        return ""
    chip = images.device_chip(detail)
    if not chip:
        return ""
    if build.chip and build.chip != chip:
        return f"The build is for {build.chip}, this device is {images.device_label(detail)}."
    if build.kind == "gzip" and chip != images.ESP8266:
        return (
            f"A gzip image is an ESP8266 OTA format; this device is {images.device_label(detail)}."
        )
    return ""


def _read_detail(client: IoTClient, token_id: int, uid: str, tries: int = 3) -> dict[str, Any]:
    """One budgeted detail read; a 429 pauses the token's fleet work and is tried again (the
    slot waits out the pause), up to `tries` times."""
    for attempt in range(tries):
        with budget.slot(token_id):
            try:
                return client.get_device(uid)
            except RateLimited as error:
                budget.pause(token_id, error.retry_after or 60)
                if attempt == tries - 1:
                    raise
    raise AssertionError("unreachable")


def plan(
    actor: Who,
    token: ApiToken,
    build: Build | None,
    devices: Iterable[tuple[str, str]],
    *,
    canary: int = 1,
    percents: Sequence[int] = (100,),
    promote: str = Rollout.Promote.AUTO,
    pass_percent: int = 100,
    soak_seconds: int = 300,
    max_failures: int | None = None,
    max_failure_percent: int | None = None,
    offline_wait_seconds: int = 3600,
    follow_timeout_seconds: int = 900,
    start_at: datetime | None = None,
    window_days: Sequence[int] = (),
    window_start_hour: int | None = None,
    window_end_hour: int | None = None,
    window_tz: str = "UTC",
    rollback_of: Rollout | None = None,
    previous: dict[str, tuple[str, str]] | None = None,
) -> Outcome:
    """A rollout of `build` to `devices` (uid, name as shown); its answer is the Rollout.

    It starts in `planning`: a worker reads each device's detail (budgeted, never in the
    request), excludes and skips what must be, shares the rest into waves, and leaves it a
    `draft` to start (`finish_planning`). `previous` (a rollback's, uid -> (md5, firmware
    id)) gives each device its own target instead of a build.
    """
    who = Actor.of(actor)
    listed = list(dict.fromkeys((uid, name) for uid, name in devices))
    percents = list(percents)
    sent: dict[str, Any] = {
        "build": build.pk if build else None,
        "md5": build.md5 if build else None,
        "devices": len(listed),
        "canary": canary,
        "percents": percents,
        "promote": promote,
        "soak_seconds": soak_seconds,
        "max_failures": max_failures,
        "max_failure_percent": max_failure_percent,
    }
    if rollback_of is not None:
        sent["rollback_of"] = rollback_of.pk

    def make() -> Done:
        if not listed:
            raise Refused("Choose at least one device.")
        problem = check_percents(percents)
        if problem:
            raise Refused(problem, errors={"percents": [problem]})
        if build is None and previous is None:
            raise Refused("Choose a build from the library.")
        if build is not None and build.token_id != token.pk:
            raise Refused("This build belongs to another fleet's library.")
        if not 0 <= pass_percent <= 100:
            raise Refused("The share of healthy devices a wave needs is from 0 to 100 %.")
        if window_tz:
            try:
                ZoneInfo(window_tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise Refused(f"Unknown time zone “{window_tz}”.") from None
        if client_of(token) is None:
            raise Refused("The fleet's API token is gone or cannot be read.")
        user, username = _user(who)
        with transaction.atomic():
            rollout = Rollout.objects.create(
                token=token,
                token_label=token.label,
                build=build,
                state=Rollout.State.PLANNING,
                canary=canary,
                percents=percents,
                promote=promote,
                pass_percent=pass_percent,
                soak_seconds=soak_seconds,
                max_failures=max_failures,
                max_failure_percent=max_failure_percent,
                offline_wait_seconds=offline_wait_seconds,
                follow_timeout_seconds=follow_timeout_seconds,
                start_at=start_at,
                window_days=list(window_days),
                window_start_hour=window_start_hour,
                window_end_hour=window_end_hour,
                window_tz=window_tz or "UTC",
                created_by=user,
                created_by_name=username,
                created_ip=who.ip,
                rollback_of=rollback_of,
            )
            rows = []
            for position, (uid, name) in enumerate(listed):
                row = Target(
                    rollout=rollout,
                    position=position,
                    device_uid=uid,
                    device_name=(name or uid)[:100],
                    state=Target.State.CHECKING,
                    target_md5=build.md5 if build else "",
                )
                if previous is not None:
                    row.target_md5, row.firmware_id = previous.get(uid, ("", ""))
                    row.firmware_md5 = row.target_md5
                rows.append(row)
            Target.objects.bulk_create(rows, batch_size=500)
            enqueue(rollout)
        what = label(build) if build else "their previous builds"
        message = (
            f"Rollout {rollout.pk} of {what} planned for {_devices(len(rows))}: their details "
            "are being read (devices of another chip and those already running it are left "
            "out and listed), then it can be started."
        )
        return Done(answer=rollout, message=message, sent={"rollout": rollout.pk})

    # A rollback's planning is the one row of "Roll back the failed devices".
    action = "rollout.rollback" if rollback_of is not None else "rollout.plan"
    return perform(who, action, make, sent=sent)


def check(client: IoTClient | None, rollout: Rollout, row: Target) -> None:
    """Planning, one device: read its detail (budgeted) and decide whether it is updated.
    Called by the worker with the target claimed (fleet/rollout_engine.py)."""
    now = timezone.now()
    if client is None:
        detail, problem = None, "The fleet's API token is gone or cannot be read."
    else:
        try:
            detail, problem = _read_detail(client, rollout.token_id, row.device_uid, tries=1), ""
        except RateLimited:
            # Its turn comes again after the pause (the budget waits it out).
            row.next_check_at = now + timedelta(seconds=1)
            Target.objects.filter(pk=row.pk).update(next_check_at=row.next_check_at)
            return
        except IoTError as error:
            detail, problem = None, f"Its detail could not be read: {error.message}"
    row.state = Target.State.WAITING
    if detail is None:
        row.state, row.why = Target.State.EXCLUDED, problem
    else:
        decide(row, rollout.build, detail, rollback=rollout.rollback_of_id is not None)
    if row.state != Target.State.WAITING:
        row.finished_at = now
    row.next_check_at = None
    row.save(update_fields=[
        "state", "why", "finished_at", "next_check_at", "device_name", "chip", "previous_md5",
        "previous_firmware_id", "previous_version", "last_ip", "last_rssi", "description",
        "last_seen_at",
    ])  # fmt: skip


def decide(
    row: Target, build: Build | None, detail: dict[str, Any], *, rollback: bool = False
) -> None:
    """What a device's detail says about its part in the rollout (excluded, skipped or
    waiting), with what it ran before.

    In a rollback, a device already running the build it goes back to but whose target
    upstream is another (it came back on its old build: the target is still the new one, which
    it may fetch at its next OTA check) waits too: the engine sets its target back, and
    triggers nothing (fleet/rollout_engine.py `trigger`)."""
    row.device_name = (display.text(detail.get("name")) or row.device_name)[:100]
    row.chip = images.device_chip(detail) or ""
    current = detail.get("current_firmware")
    row.previous_md5 = md5_in(current)
    if isinstance(current, dict):
        row.previous_firmware_id = str(current.get("id") or "")[:20]
        row.previous_version = (display.text(current.get("version")) or "")[:50]
    observe(row, detail)
    why = mismatch(build, detail)
    if why:
        row.state, row.why = Target.State.EXCLUDED, why
    elif not row.target_md5:
        row.state, row.why = Target.State.EXCLUDED, "No build to go back to."
    elif row.previous_md5 == row.target_md5:
        if rollback and md5_in(detail.get("target_firmware")) != row.target_md5:
            row.why = TARGET_ONLY
        else:
            row.state, row.why = Target.State.SKIPPED, "Already running this build."


def finish_planning(rollout: Rollout) -> bool:
    """Once every chosen device was read: the waves, and the rollout a draft (True)."""
    with transaction.atomic():
        locked = Rollout.objects.select_for_update().filter(pk=rollout.pk).first()
        if locked is None or locked.state != Rollout.State.PLANNING:
            return False
        if locked.targets.filter(state=Target.State.CHECKING).exists():
            return False
        eligible = list(locked.targets.filter(state=Target.State.WAITING).order_by("position"))
        limit = settings.PORTAL_ROLLOUT_APPROVAL_ABOVE
        locked.needs_approval = bool(limit) and len(eligible) > limit
        sizes = wave_sizes(len(eligible), locked.canary, locked.percents)
        # The canary is wave 0; the waves after it are 1, 2, ... with or without one.
        first = 0 if sizes and sizes[0][0] is None else 1
        at = 0
        for number, (percent, size) in enumerate(sizes, start=first):
            wave = Wave.objects.create(rollout=locked, number=number, percent=percent, size=size)
            ids = [row.pk for row in eligible[at : at + size]]
            Target.objects.filter(pk__in=ids).update(wave=wave)
            at += size
        locked.state = Rollout.State.DRAFT
        locked.save(update_fields=["needs_approval", "state"])
        return True


def observe(row: Target, detail: dict[str, Any]) -> None:
    """Keep what a detail says that a visit would need: address, RSSI, description."""
    address = detail.get("public_ip") or detail.get("local_ip")
    row.last_ip = (display.text(address) or "")[:100]
    rssi = detail.get("last_rssi")
    row.last_rssi = rssi if isinstance(rssi, int) and not isinstance(rssi, bool) else None
    row.description = (display.text(detail.get("description")) or "")[:1000]
    row.last_seen_at = (display.text(detail.get("last_seen_at")) or "")[:40]


def _devices(count: int) -> str:
    return f"{count} device" if count == 1 else f"{count} devices"


# --- steering -------------------------------------------------------------------------------


def _change(actor: Who, action: str, rollout: Rollout, change: Any, **sent: Any) -> Outcome:
    """One change of a rollout's state under its row lock: `change(locked)` returns Done."""

    def run() -> Done:
        with transaction.atomic():
            locked = Rollout.objects.select_for_update().filter(pk=rollout.pk).first()
            if locked is None:
                raise Refused(f"Rollout {rollout.pk} no longer exists.")
            return change(locked)

    return perform(actor, action, run, sent={"rollout": rollout.pk, **sent})


def _begin(rollout: Rollout) -> str:
    """Scheduled or running now, and queued for a worker."""
    now = timezone.now()
    if rollout.start_at and rollout.start_at > now:
        rollout.state = Rollout.State.SCHEDULED
        said = f"scheduled for {timezone.localtime(rollout.start_at):%Y-%m-%d %H:%M}"
        enqueue(rollout, run_after=rollout.start_at)
    else:
        rollout.state = Rollout.State.RUNNING
        rollout.started_at = rollout.started_at or now
        said = "started"
        enqueue(rollout)
    rollout.save(update_fields=["state", "started_at"])
    return said


def start(actor: Who, rollout: Rollout) -> Outcome:
    """A draft starts (or waits for its start time), or waits for a second maintainer."""

    def change(locked: Rollout) -> Done:
        if locked.state == Rollout.State.PLANNING:
            raise Refused(
                f"Rollout {locked.pk} is still reading its devices: start it when that is done."
            )
        if locked.state != Rollout.State.DRAFT:
            raise Refused(
                f"Rollout {locked.pk} is {locked.get_state_display().lower()}: "
                "only a draft can be started."
            )
        if not locked.targets.filter(state=Target.State.WAITING).exists():
            locked.state, locked.finished_at = Rollout.State.DONE, timezone.now()
            locked.save(update_fields=["state", "finished_at"])
            return Done(message=f"Rollout {locked.pk} has no device to update: it is done.")
        if locked.needs_approval:
            locked.state = Rollout.State.AWAITING_APPROVAL
            locked.save(update_fields=["state"])
            return Done(message=f"Rollout {locked.pk} waits for a second maintainer's approval.")
        said = _begin(locked)
        return Done(message=f"Rollout {locked.pk} {said}.")

    return _change(actor, "rollout.start", rollout, change)


def approve(actor: Who, rollout: Rollout) -> Outcome:
    """A second maintainer (not the one who planned it) lets it start."""
    who = Actor.of(actor)
    user, username = _user(who)

    def change(locked: Rollout) -> Done:
        if locked.state != Rollout.State.AWAITING_APPROVAL:
            raise Refused(f"Rollout {locked.pk} is not waiting for an approval.")
        if user is None or (locked.created_by_id is not None and locked.created_by_id == user.pk):
            raise Refused(
                "A rollout is approved by another maintainer than the one who planned it."
            )
        locked.approved_by, locked.approved_by_name = user, username
        locked.approved_at = timezone.now()
        locked.save(update_fields=["approved_by", "approved_by_name", "approved_at"])
        said = _begin(locked)
        return Done(message=f"Rollout {locked.pk} approved and {said}.")

    return _change(who, "rollout.approve", rollout, change)


def pause(actor: Who, rollout: Rollout, reason: str = "") -> Outcome:
    """Nothing new starts; devices already updating are followed to their end."""

    def change(locked: Rollout) -> Done:
        if locked.state not in (Rollout.State.RUNNING, Rollout.State.SCHEDULED):
            raise Refused(f"Rollout {locked.pk} is not running: nothing to pause.")
        locked.state = Rollout.State.PAUSED
        locked.paused_reason = (reason or "Paused by a maintainer.")[:500]
        locked.save(update_fields=["state", "paused_reason"])
        enqueue(locked)  # its devices in flight are still followed
        return Done(
            message=f"Rollout {locked.pk} paused: devices already updating are "
            "followed to their end, nothing new starts."
        )

    return _change(actor, "rollout.pause", rollout, change, reason=reason)


def resume(actor: Who, rollout: Rollout) -> Outcome:
    """A paused rollout goes on where it was; the failure count starts again from here. A
    wave that ended with too few healthy devices is taken as passed."""

    def change(locked: Rollout) -> Done:
        if locked.state != Rollout.State.PAUSED:
            raise Refused(f"Rollout {locked.pk} is not paused.")
        locked.failure_base = failures(locked)
        locked.paused_reason = ""
        locked.state = Rollout.State.RUNNING
        locked.save(update_fields=["failure_base", "paused_reason", "state"])
        now = timezone.now()
        for wave in locked.waves.filter(state__in=[Wave.State.PAUSED, Wave.State.FAILED]):
            # A wave whose devices have all ended is taken as passed: the maintainer has seen
            # its failures and goes on. One with devices left runs on.
            ended = not wave.targets.exclude(state__in=Target.FINAL).exists()
            wave.state = Wave.State.PASSED if ended else Wave.State.RUNNING
            wave.ended_at = now if ended else None
            wave.save(update_fields=["state", "ended_at"])
        enqueue(locked)
        return Done(message=f"Rollout {locked.pk} resumed.")

    return _change(actor, "rollout.resume", rollout, change)


def abort(actor: Who, rollout: Rollout) -> Outcome:
    """Ends it: devices not yet triggered are not touched; those in flight are followed."""

    def change(locked: Rollout) -> Done:
        if locked.state in Rollout.ENDED:
            raise Refused(f"Rollout {locked.pk} has already ended.")
        now = timezone.now()
        # Only those with no write in flight: a claimed one ends its step, then stops.
        count = locked.targets.filter(
            state__in=[Target.State.WAITING, Target.State.CHECKING], claimed_by=""
        ).update(
            state=Target.State.CANCELLED,
            why="The rollout was aborted before its turn.",
            finished_at=now,
        )
        locked.state = Rollout.State.ABORTED
        locked.finished_at = now
        locked.save(update_fields=["state", "finished_at"])
        locked.waves.filter(state=Wave.State.PENDING).update(ended_at=now)
        enqueue(locked)  # the engine follows what is in flight, and stops the rest
        return Done(
            answer=count,
            message=f"Rollout {locked.pk} aborted: {_devices(count)} will not be touched; "
            "devices already updating are followed to their end.",
            sent={"cancelled": count},
        )

    return _change(actor, "rollout.abort", rollout, change)


def promote(actor: Who, rollout: Rollout) -> Outcome:
    """Start the next wave of a manual rollout whose current wave passed."""
    who = Actor.of(actor)
    _, username = _user(who)

    def change(locked: Rollout) -> Done:
        if locked.state != Rollout.State.RUNNING:
            raise Refused(f"Rollout {locked.pk} is not running: nothing to promote.")
        waves = list(locked.waves.order_by("number"))
        if any(w.state in (Wave.State.RUNNING, Wave.State.PAUSED) for w in waves):
            raise Refused("The current wave has not passed yet.")
        nxt = next((w for w in waves if w.state == Wave.State.PENDING), None)
        if nxt is None:
            raise Refused(f"Rollout {locked.pk} has no wave left.")
        nxt.state, nxt.started_at = Wave.State.RUNNING, timezone.now()
        nxt.promoted_by_name = username
        nxt.save(update_fields=["state", "started_at", "promoted_by_name"])
        enqueue(locked)
        return Done(message=f"Rollout {locked.pk}: {nxt} started.", sent={"wave": nxt.number})

    return _change(who, "rollout.promote", rollout, change)


def rollback_failed(actor: Who, rollout: Rollout, client: IoTClient | None = None) -> Outcome:
    """A new rollout (a draft, `rollback_of`) taking each failed device back to the build it
    ran before, when the device's firmware list upstream still has it. Devices that no
    longer have it are named in the message; the draft is started like any other. A device
    that came back on its old build runs it already: its target (still the failed build) is
    set back to it, with no OTA trigger (`decide`)."""
    who = Actor.of(actor)
    failed = list(rollout.targets.filter(state__in=Target.FAILURES).exclude(previous_md5=""))
    reader = client or client_of(rollout.token)
    previous: dict[str, tuple[str, str]] = {}
    missing: list[str] = []
    if reader is not None:
        for target in failed:
            try:
                with budget.slot(rollout.token_id):
                    firmwares = reader.list_firmwares(target.device_uid)
            except IoTError:
                missing.append(target.device_name or target.device_uid)
                continue
            match = next((fw for fw in firmwares if md5_in(fw) == target.previous_md5), None)
            if match is None:
                missing.append(target.device_name or target.device_uid)
            else:
                previous[target.device_uid] = (target.previous_md5, str(match.get("id", ""))[:20])
    devices = [(t.device_uid, t.device_name) for t in failed if t.device_uid in previous]
    if rollout.token is None or not devices:
        why = "No failed device can be rolled back"
        why += f" (no longer uploaded: {', '.join(missing)})." if missing else "."
        return perform(who, "rollout.rollback", _refuse(why), sent={"rollout": rollout.pk})
    outcome = plan(
        who,
        rollout.token,
        None,
        devices,
        canary=0,
        percents=[100],
        promote=Rollout.Promote.AUTO,
        pass_percent=0,
        soak_seconds=rollout.soak_seconds,
        offline_wait_seconds=rollout.offline_wait_seconds,
        follow_timeout_seconds=rollout.follow_timeout_seconds,
        rollback_of=rollout,
        previous=previous,
    )
    if missing and outcome.ok:
        outcome.message += f" Not rolled back (no longer uploaded): {', '.join(missing)}."
    return outcome


def _refuse(message: str) -> Any:
    def call() -> None:
        raise Refused(message)

    return call


# --- reading --------------------------------------------------------------------------------


def failures(rollout: Rollout) -> int:
    return rollout.targets.filter(state__in=Target.FAILURES).count()


def counts(rollout: Rollout) -> dict[str, int]:
    """Targets per state, every state present, plus `failures`, `in_flight` and `total`."""
    found = dict(
        rollout.targets.values_list("state").annotate(n=Count("pk")).values_list("state", "n")
    )
    result = {state: found.get(state, 0) for state in Target.State.values}
    result["failures"] = sum(result[s] for s in Target.FAILURES)
    result["in_flight"] = sum(result[s] for s in (*Target.BEFORE_TRIGGER[1:], *Target.IN_FLIGHT))
    result["total"] = sum(found.values())
    return result


REPORT_HEADER = [
    "device_uid",
    "device_name",
    "wave",
    "state",
    "why",
    "previous_md5",
    "previous_version",
    "target_md5",
    "firmware_id",
    "chip",
    "last_ip",
    "last_rssi",
    "last_seen_at",
    "description",
    "triggered_at",
    "finished_at",
    "steps",
]


def report_rows(rollout: Rollout) -> Iterator[list[Any]]:
    """The CSV report: a header, then one row per device (its steps in one cell, in order).
    Values are as stored; the view writes them through the portal's CSV-safe writer."""
    yield list(REPORT_HEADER)
    targets = rollout.targets.select_related("wave").prefetch_related("steps")
    for t in targets.order_by("position", "pk"):
        steps = "; ".join(
            f"{s.at:%Y-%m-%d %H:%M:%S} {s.kind} {s.outcome}"
            + (f": {s.message}" if s.message else "")
            for s in t.steps.all()
        )
        yield [
            t.device_uid,
            t.device_name,
            str(t.wave) if t.wave else "",
            t.get_state_display(),
            t.why,
            t.previous_md5,
            t.previous_version,
            t.target_md5,
            t.firmware_id,
            t.chip,
            t.last_ip,
            "" if t.last_rssi is None else t.last_rssi,
            t.last_seen_at,
            t.description,
            t.triggered_at.isoformat() if t.triggered_at else "",
            t.finished_at.isoformat() if t.finished_at else "",
            steps,
        ]


def needs_visit(rollout: Rollout) -> list[Target]:
    """The devices that dropped offline and stayed away: the list the team prints."""
    return list(rollout.targets.filter(state=Target.State.NEEDS_VISIT).order_by("position"))


# --- the schedule ---------------------------------------------------------------------------


def in_window(rollout: Rollout, now: datetime | None = None) -> bool:
    """Whether new devices may start now: after start_at, inside the maintenance window."""
    now = now or timezone.now()
    if rollout.start_at and now < rollout.start_at:
        return False
    if not rollout.window_days and rollout.window_start_hour is None:
        return True
    try:
        local = now.astimezone(ZoneInfo(rollout.window_tz or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        local = now
    start, end = rollout.window_start_hour, rollout.window_end_hour
    day = local.weekday()
    if start is None or end is None:
        return not rollout.window_days or day in rollout.window_days
    if start < end:
        return (not rollout.window_days or day in rollout.window_days) and start <= local.hour < end
    # Spans midnight: the hours after midnight belong to the window that opened the day before.
    if local.hour >= start:
        return not rollout.window_days or day in rollout.window_days
    if local.hour < end:
        return not rollout.window_days or (day - 1) % 7 in rollout.window_days
    return False


def step_of(target: Target, kind: str) -> Step | None:
    """The target's latest step of this kind."""
    return target.steps.filter(kind=kind).order_by("-at", "-pk").first()
