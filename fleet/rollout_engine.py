"""Running a rollout: its waves, and each device's steps in order, exactly once.

A task (fleet/tasks.py `advance_rollout`) calls `advance(rollout_id)`; any number of workers
may advance the same rollout at once, each claiming devices (Targets) the others have not.
The truth lives in the rows (fleet/models.py), never in the task: a worker killed at any
moment loses nothing.

Per device, one step at a time, each claimed before it is made:

- the Target is claimed (`claimed_by`, select_for_update skip_locked) in its own committed
  transaction; only its claimant moves it on, and releases it with its next check time;
- each write (upload, set target, trigger) is first recorded as a Step `pending` with the
  worker's id, committed, then made through the core's write path (portal.outcomes.perform:
  one audit row, `firmware.upload`, `firmware.set_target`, `firmware.ota`, with the rollout's
  id in what was sent), then its answer is recorded on the Step;
- every upstream call goes through fleet.budget.slot(token id); a 429 pauses the token's
  fleet work (budget.pause) and the step is made again after it (the upstream said no: nothing
  happened).

The OTA trigger is sent at most once per device per rollout: a trigger step that is pending
(its worker died), unknown, failed without an answer or accepted is never followed by
another; only a refusal by the upstream (offline, throttled) lets it be sent again. A worker
killed between the claim and the answer leaves the step pending; `revive()` makes it unknown
and frees the device, and the device is then followed from its detail.

Following a triggered device reads its detail every PORTAL_ROLLOUT_POLL_SECONDS:

- it runs the target md5 and is online: soaking; still online and on it after soak_seconds:
  healthy (a drop during the soak sends it back to following);
- it comes back on its old build (its `last_ota_at` is no longer the one read just before
  the trigger, or it was seen offline or restarting since the trigger, or its
  `meta.ota_status` says the update ended, and it runs the md5 it ran before): failed;
- the follow timeout passes while it is online on the old build: timed out (it stopped
  reporting progress); while it is offline: needs a visit (last address, RSSI, description
  kept).

Waves: the first pending wave starts when the rollout runs; a wave passes when every device
of it has ended and at least `pass_percent` of them are healthy; the next starts then (auto)
or when a maintainer promotes (manual). The failure threshold (failed, timed out, needs a
visit: a count since the last resume, or a share of the wave) pauses the rollout within the
wave where it is reached: nothing new is triggered, devices in flight are followed to their
end, the next wave never starts.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import UTC, timedelta
from io import BytesIO
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from fleet import budget, engine, rollouts
from fleet.library import md5_in
from fleet.models import Build, BuildFile, Rollout, Step, Target, Wave, Worker
from portal import audit, display, storable
from portal.iot import IoTClient, IoTError, OutcomeUnknown, RateLimited, UpstreamUnavailable
from portal.outcomes import Actor, Done, Outcome, perform, refuse

logger = logging.getLogger("portal.fleet")

DUPLICATE = "This firmware file is already uploaded."
UPLOAD_TRIES = 3  # upload or set target answers of failure before the device is failed
REFUSALS = 10  # set target refusals (not 429s) before the device is failed
NOT_TAKEN = (
    "The device service accepted its target {} times, but its detail never showed the build "
    "as the target."
)
STALE = "The worker making this step stopped before an answer came: the device may or may not have acted on it."  # noqa: E501
OFFLINE_WORDS = {"offline", "reconnecting", "disconnected"}
ENDED_OTA = {"done", "failed", "error", "aborted"}
MARK_LENGTH = 40  # Target.trigger_last_ota_at
SET_BACK = "Already runs the build; its target was set back to it."
# Set when this worker was asked to stop (SIGTERM, see fleet/management/commands/db_worker.py):
# a rollout being advanced is left between two steps and queued for the next worker.
STOPPING = threading.Event()
# One task works a rollout for at most this long, then queues it again: a single worker shares
# itself between rollouts (and jobs) running at once. Longer waits go back to the queue too.
SLICE_SECONDS = 20.0
NAP_SECONDS = 3.0


class Context:
    """What one worker needs to work a rollout: its clients and its actor."""

    def __init__(self, rollout: Rollout, *, keep: bool = False) -> None:
        self.rollout = rollout
        # Keep the token's place in flight from one upstream call to the next (budget.slot
        # keep=True, one budget write fewer a call); whoever sets it calls budget.let_go.
        self.keep = keep
        # The creator's token label read once for every audit row of this task (as a job's).
        self.actor = Actor(
            user=rollout.created_by,
            ip=rollout.created_ip,
            token_label=audit.token_label_of(rollout.created_by),
        )
        token = rollout.token
        self.writer: IoTClient | None = None
        self.reader: IoTClient | None = None
        if token is not None:
            try:
                value = token.value()
            except Exception:
                logger.error("rollout %s: token %s cannot be decrypted", rollout.pk, token.label)
            else:
                # Writes forget the pages' cached reads of the token; follow reads are never
                # cached (a device's progress is what they are for).
                self.writer = IoTClient(value, cache_id=token.pk)
                self.reader = IoTClient(value, cache_id=None)
        self._content: bytes | None = None
        self._build = rollout.build

    def build(self) -> Build | None:
        """The rollout's build, read once per task (refreshing the rollout forgets it)."""
        if self._build is None and self.rollout.build_id is not None:
            self._build = Build.objects.get(pk=self.rollout.build_id)
        return self._build

    def content(self) -> bytes:
        if self._content is None:
            self._content = bytes(BuildFile.objects.get(build_id=self.rollout.build_id).content)
        return self._content


def poll_seconds() -> float:
    return settings.PORTAL_ROLLOUT_POLL_SECONDS


# --- the task -------------------------------------------------------------------------------


def advance(rollout_id: int) -> None:
    """Work on one rollout until nothing is left that this worker can do now."""
    engine.alive()
    rollout = Rollout.objects.select_related("token", "build", "created_by").filter(pk=rollout_id)
    rollout = rollout.first()
    if rollout is None:
        return
    ctx = Context(rollout, keep=True)
    try:
        _advance(ctx)
    finally:
        budget.let_go(rollout.token_id)  # the place in flight kept between its calls


def _advance(ctx: Context) -> None:
    rollout, rollout_id = ctx.rollout, ctx.rollout.pk
    began = last_alive = last_mark = time.monotonic()
    while True:
        if STOPPING.is_set() or time.monotonic() - began > SLICE_SECONDS:
            # Asked to stop, or its turn is over: queued again, so the next worker (or this
            # one, after the other rollouts and jobs waiting) goes on.
            rollouts.enqueue(rollout)
            return
        if time.monotonic() - last_alive > settings.PORTAL_FLEET_WORKER_TIMEOUT / 4:
            engine.alive()
            last_alive = time.monotonic()
        try:
            ctx.rollout.refresh_from_db()  # its state, as a pause or an abort left it
        except Rollout.DoesNotExist:
            return
        state = ctx.rollout.state
        if state in (Rollout.State.DRAFT, Rollout.State.AWAITING_APPROVAL):
            return
        if state == Rollout.State.SCHEDULED:
            if not _begin_scheduled(rollout):
                return
            ctx.rollout.refresh_from_db()
        if time.monotonic() - last_mark > 5:  # for the pages: advanced how long ago
            Rollout.objects.filter(pk=rollout_id).update(advanced_at=timezone.now())
            last_mark = time.monotonic()
        due = claimable(ctx.rollout)
        target = claim(ctx.rollout, due)
        # The current wave may have ended: judge it, open the next (and look again).
        if target is None and open_waves(ctx.rollout):
            ctx.rollout.refresh_from_db()
            due = claimable(ctx.rollout)
            target = claim(ctx.rollout, due)
        if target is not None:
            try:
                work(ctx, target)
            finally:
                release(target)
            continue
        wait = _next_due(ctx.rollout, due)
        if wait is None:
            if ctx.rollout.state == Rollout.State.PLANNING:
                rollouts.finish_planning(ctx.rollout)  # a draft now, to be started
                return
            if _later(ctx.rollout):
                return
            finish(ctx.rollout)
            return
        if wait > 0.05 and _others_waiting(rollout):
            # Other work waits for a worker (another rollout, a job): this one goes back in
            # the queue behind it rather than keep the worker while it has nothing to do.
            rollouts.enqueue(rollout, run_after=timezone.now() + timedelta(seconds=wait))
            return
        if wait > NAP_SECONDS:
            # Nothing due for a while (a soak, a device waited for): the worker is free for
            # other tasks meanwhile; the queue brings this rollout back when it is due.
            rollouts.enqueue(rollout, run_after=timezone.now() + timedelta(seconds=wait))
            return
        budget.let_go(rollout.token_id)  # not held while nothing is sent
        time.sleep(max(0.02, min(wait, 1.0)))


def _others_waiting(rollout: Rollout) -> bool:
    """A task other than this rollout's own is ready for a worker now."""
    from django_tasks_db.models import DBTaskResult

    ready = DBTaskResult.objects.ready()
    for task in ready.only("task_path", "args_kwargs")[:20]:
        if task.task_path != rollouts.ADVANCE or (task.args_kwargs or {}).get("args") != [
            rollout.pk
        ]:
            return True
    return False


def _begin_scheduled(rollout: Rollout) -> bool:
    """A scheduled rollout whose time came runs now (True); else it is queued for then."""
    now = timezone.now()
    if rollout.start_at and rollout.start_at > now:
        rollouts.enqueue(rollout, run_after=rollout.start_at)
        return False
    Rollout.objects.filter(pk=rollout.pk, state=Rollout.State.SCHEDULED).update(
        state=Rollout.State.RUNNING, started_at=now
    )
    return True


def _later(rollout: Rollout) -> bool:
    """Nothing is due now but the rollout waits for its window: queued again for later
    (True). Devices in flight would have been due, so none are."""
    rollout.refresh_from_db()
    if rollout.state != Rollout.State.RUNNING or rollouts.in_window(rollout):
        return False
    if not rollout.targets.filter(state__in=Target.BEFORE_TRIGGER, wave__state=Wave.State.RUNNING):
        return False
    rollouts.enqueue(rollout, run_after=timezone.now() + timedelta(seconds=60))
    return True


def claimable(rollout: Rollout) -> Q:
    """Targets whose next step may be made now by whoever claims them."""
    if rollout.state == Rollout.State.PLANNING:
        return Q(state=Target.State.CHECKING)
    followed = Q(state__in=Target.IN_FLIGHT)
    # A trigger already recorded (even unknown) is followed, never sent again: due always.
    followed |= Q(state=Target.State.TRIGGERING, triggered_at__isnull=False)
    if rollout.state == Rollout.State.ABORTED:
        # Those not triggered yet are settled as not started.
        return followed | Q(state__in=[Target.State.CHECKING, *Target.BEFORE_TRIGGER])
    if rollout.state == Rollout.State.RUNNING and rollouts.in_window(rollout):
        started = Q(state__in=Target.BEFORE_TRIGGER[1:], wave__state=Wave.State.RUNNING)
        active = Target.objects.filter(rollout=rollout).filter(
            Q(state__in=Target.BEFORE_TRIGGER[1:]) | Q(state__in=Target.IN_FLIGHT)
        )
        if active.count() < settings.PORTAL_ROLLOUT_MAX_ACTIVE:
            started |= Q(state=Target.State.WAITING, wave__state=Wave.State.RUNNING)
        return followed | started
    return followed


def claim(rollout: Rollout, due: Q | None = None) -> Target | None:
    """The next due target of this rollout, now this worker's (or None). `due`: what
    `claimable(rollout)` gave for this turn of the loop (it counts the devices in progress)."""
    now = timezone.now()
    with transaction.atomic():
        due = (
            Target.objects.filter(rollout=rollout, claimed_by="")
            .filter(claimable(rollout) if due is None else due)
            .filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=now))
        )
        target = due.select_for_update(skip_locked=True, of=("self",)).order_by(
            "next_check_at", "position"
        )
        target = target.first()
        if target is None:
            return None
        target.claimed_by = engine.worker_id()
        target.save(update_fields=["claimed_by"])
        return target


def release(target: Target) -> None:
    """The target is no longer this worker's; what its step left to write (`_keep`) is
    written in the same statement."""
    values = _kept(target)
    values["claimed_by"] = ""
    Target.objects.filter(pk=target.pk, claimed_by=engine.worker_id()).update(**values)


def _next_due(rollout: Rollout, due: Q | None = None) -> float | None:
    """Seconds before a target of this rollout may be due (None: none will be by itself)."""
    pending = Target.objects.filter(rollout=rollout).filter(
        claimable(rollout) if due is None else due
    )
    found = pending.aggregate(n=Count("pk"), at=Min("next_check_at"))
    if not found["n"]:
        # Another worker's claim ends with a next check: wait for it too.
        if Target.objects.filter(rollout=rollout).exclude(claimed_by="").exists():
            return poll_seconds()
        return None
    soonest = found["at"]
    if soonest is None:
        return 0.05 if pending.filter(claimed_by="").exists() else poll_seconds()
    return max(0.0, (soonest - timezone.now()).total_seconds())


# --- waves ----------------------------------------------------------------------------------


def open_waves(rollout: Rollout) -> bool:
    """Judge the current wave when its devices have ended; start the next when allowed.
    True when it judged a wave or started one (the caller reads the rollout again)."""
    if rollout.state != Rollout.State.RUNNING:
        return False
    # First without the lock: a running wave with a device not ended has nothing to judge
    # (at most one wave runs, and an ended device never goes back), so no lock is taken.
    going = Target.objects.filter(rollout=rollout, wave__state=Wave.State.RUNNING)
    if going.exclude(state__in=Target.FINAL).exists():
        return False
    with transaction.atomic():
        locked = Rollout.objects.select_for_update().get(pk=rollout.pk)
        if locked.state != Rollout.State.RUNNING:
            return False
        waves = list(locked.waves.order_by("number"))
        current = next((w for w in waves if w.state == Wave.State.RUNNING), None)
        if current is not None:
            if current.targets.exclude(state__in=Target.FINAL).exists():
                return False
            judge(locked, current)
            if locked.state != Rollout.State.RUNNING:
                return True
        if any(w.state in (Wave.State.RUNNING, Wave.State.PAUSED) for w in waves):
            return current is not None
        pending = [w for w in waves if w.state == Wave.State.PENDING]
        if not pending:
            return current is not None
        first = pending[0].number == waves[0].number
        if first or locked.promote == Rollout.Promote.AUTO:
            nxt = pending[0]
            nxt.state, nxt.started_at = Wave.State.RUNNING, timezone.now()
            nxt.save(update_fields=["state", "started_at"])
            return True
        return current is not None


def judge(rollout: Rollout, wave: Wave) -> None:
    """A wave whose devices all ended: passed, or failed (too few healthy: paused)."""
    total = wave.targets.count()
    healthy = wave.targets.filter(state=Target.State.HEALTHY).count()
    needed = math.ceil(total * rollout.pass_percent / 100)
    wave.ended_at = timezone.now()
    if healthy >= needed:
        wave.state = Wave.State.PASSED
        wave.save(update_fields=["state", "ended_at"])
        return
    wave.state = Wave.State.FAILED
    wave.save(update_fields=["state", "ended_at"])
    _auto_pause(
        rollout,
        f"{wave} ended with {healthy} of {total} devices healthy; it needs "
        f"{rollout.pass_percent} % ({needed}).",
    )


def threshold(rollout_id: int, wave_id: int | None) -> None:
    """After a device failed: pause the rollout if its failure threshold is reached."""
    with transaction.atomic():
        locked = Rollout.objects.select_for_update().get(pk=rollout_id)
        if locked.state != Rollout.State.RUNNING:
            return
        failed = rollouts.failures(locked) - locked.failure_base
        reason = ""
        if locked.max_failures is not None and failed >= locked.max_failures:
            reason = f"{failed} devices failed: the threshold is {locked.max_failures}."
        wave = Wave.objects.filter(pk=wave_id).first() if wave_id else None
        if not reason and wave is not None and locked.max_failure_percent is not None:
            in_wave = wave.targets.filter(state__in=Target.FAILURES).count()
            if wave.size and in_wave * 100 >= locked.max_failure_percent * wave.size:
                reason = (
                    f"{in_wave} of {wave.size} devices of {wave} failed: the threshold is "
                    f"{locked.max_failure_percent} % of a wave."
                )
        if not reason:
            return
        if wave is not None and wave.state == Wave.State.RUNNING:
            wave.state = Wave.State.PAUSED
            wave.save(update_fields=["state"])
        _auto_pause(locked, reason)


def _auto_pause(locked: Rollout, reason: str) -> None:
    """The rollout pauses by itself (called under its row lock): one `rollout.pause` row."""

    def change() -> Done:
        locked.state = Rollout.State.PAUSED
        locked.paused_reason = storable.text(f"Paused by itself: {reason}", 500)
        locked.save(update_fields=["state", "paused_reason"])
        return Done(message=locked.paused_reason)

    perform(
        Actor(user=None),
        "rollout.pause",
        change,
        sent={"rollout": locked.pk, "automatic": True, "reason": reason},
    )


def finish(rollout: Rollout) -> None:
    """Done when every wave passed and no device is left (an aborted one stays aborted)."""
    with transaction.atomic():
        locked = Rollout.objects.select_for_update().get(pk=rollout.pk)
        if locked.state != Rollout.State.RUNNING:
            return
        if locked.waves.exclude(state=Wave.State.PASSED).exists():
            return
        if locked.targets.exclude(state__in=Target.FINAL).exists():
            return
        locked.state, locked.finished_at = Rollout.State.DONE, timezone.now()
        locked.save(update_fields=["state", "finished_at"])


# --- one device's step ----------------------------------------------------------------------


def work(ctx: Context, target: Target) -> None:
    """Make the target's next step (it is claimed by this worker)."""
    rollout = ctx.rollout
    if target.state == Target.State.CHECKING:
        if rollout.state == Rollout.State.ABORTED:
            end(target, Target.State.CANCELLED, "The rollout was aborted before its update.")
        else:
            rollouts.check(ctx.reader, rollout, target)
        return
    aborted = rollout.state == Rollout.State.ABORTED
    # The ledger is asked only for an aborted rollout (a trigger is looked for again, under
    # its own rule, before one is sent).
    before = aborted and target.state in Target.BEFORE_TRIGGER and target.triggered_at is None
    if before and not _triggered(target):
        end(target, Target.State.CANCELLED, "The rollout was aborted before its update.")
        return
    if ctx.writer is None or ctx.reader is None:
        end(target, Target.State.FAILED, "The rollout's API token is gone or cannot be read.")
        return
    if target.started_at is None:
        target.started_at = timezone.now()
        _keep(target, "started_at")
    if target.state == Target.State.WAITING:
        nxt = Target.State.UPLOADING if rollout.build_id else Target.State.TARGETING
        _move(target, nxt)
        # Written now, not with the release: it counts among the devices in progress
        # (PORTAL_ROLLOUT_MAX_ACTIVE) for the other workers' claims from here on.
        _save(target)
    state = target.state
    if state == Target.State.UPLOADING:
        upload(ctx, target)
    elif state == Target.State.TARGETING:
        set_target(ctx, target)
    elif state == Target.State.TRIGGERING:
        trigger(ctx, target)
    elif state in Target.IN_FLIGHT:
        follow(ctx, target)


def _keep(target: Target, *fields: str) -> None:
    """These fields of the target are written with its next write: `_save`, or at the
    latest its release, one UPDATE for the step rather than one per field changed."""
    target.__dict__.setdefault("_unsaved", set()).update(fields)


def _kept(target: Target) -> dict[str, Any]:
    """The fields `_keep` left to write, and their values (now forgotten)."""
    return {name: getattr(target, name) for name in target.__dict__.pop("_unsaved", ())}


def _save(target: Target, *fields: str) -> None:
    """Write these fields now, with those kept for later; only while this worker holds it."""
    values = _kept(target)
    values.update({name: getattr(target, name) for name in fields})
    if values:
        Target.objects.filter(pk=target.pk, claimed_by=engine.worker_id()).update(**values)


def _move(target: Target, state: str, *, why: str | None = None, after: float = 0, **more: Any):
    """The target's next state and when it is due, written at its release (`_keep`)."""
    target.state = state
    target.next_check_at = timezone.now() + timedelta(seconds=after) if after else None
    fields = ["state", "next_check_at"]
    if why is not None:
        target.why = storable.text(why, 500)
        fields.append("why")
    for name, value in more.items():
        setattr(target, name, value)
        fields.append(name)
    _keep(target, *fields)


def end(target: Target, state: str, why: str) -> None:
    """The device's part has ended; a failure may pause the rollout."""
    _move(target, state, why=why, finished_at=timezone.now())
    if state in Target.FAILURES:
        _save(target)  # the threshold counts it
        threshold(target.rollout_id, target.wave_id)


def _step(target: Target, kind: str) -> Step:
    """A write step recorded as in flight, committed before its call."""
    with transaction.atomic():
        return Step.objects.create(target=target, kind=kind, claimed_by=engine.worker_id())


def _answer(step: Step, outcome: Outcome | None = None, *, result: str = "", message: str = ""):
    if outcome is not None:
        result = result or {
            "success": Step.Outcome.OK,
            "warning": Step.Outcome.WARNING,
            "unknown": Step.Outcome.UNKNOWN,
        }.get(outcome.level, Step.Outcome.ERROR)
        message = message or outcome.message
        step.audit = outcome.event
        step.status_code = getattr(outcome.error, "status", None)
    step.outcome = result
    step.message = storable.text(message, 500)
    Step.objects.filter(pk=step.pk, outcome=Step.Outcome.PENDING).update(
        outcome=step.outcome,
        message=step.message,
        audit=step.audit,
        status_code=step.status_code,
    )


def _note(target: Target, kind: str, result: str, message: str) -> None:
    """A read in the ledger (no audit row: a read is no write), kept only when it says
    something new, so following a device does not fill its ledger."""
    message = storable.text(message, 500)
    last = target.steps.order_by("-at", "-pk").first()
    if last and last.kind == kind and last.message == message and last.outcome == result:
        return
    Step.objects.create(target=target, kind=kind, outcome=result, message=message)


def _throttled(ctx: Context, target: Target, error: IoTError | None) -> bool:
    if not isinstance(error, RateLimited):
        return False
    seconds = error.retry_after or 60
    budget.pause(ctx.rollout.token_id, seconds)
    _move(target, target.state, after=seconds)
    return True


NOT_SENT = "Not sent: the worker stopped before its turn came."


def _write(ctx: Context, target: Target, action: str, call: Any, sent: dict[str, Any], **kw):
    sent = {"rollout": ctx.rollout.pk, **sent}
    try:
        with budget.slot(ctx.rollout.token_id, keep=ctx.keep):
            return perform(
                ctx.actor,
                action,
                call,
                device_uid=target.device_uid,
                device_name=target.device_name,
                sent=sent,
                **kw,
            )
    except budget.Stopping:
        # Nothing went out: a refusal of the portal's own (its one audit row), which the
        # steps take as "not started"; the rollout goes back in the queue as the worker stops.
        STOPPING.set()
        return refuse(
            ctx.actor, action, NOT_SENT, device_uid=target.device_uid,
            device_name=target.device_name, sent=sent,
        )  # fmt: skip


def _read(ctx: Context, call: Any, *args: Any) -> tuple[Any, IoTError | None]:
    try:
        with budget.slot(ctx.rollout.token_id, keep=ctx.keep):
            try:
                return call(*args), None
            except IoTError as error:
                return None, error
    except budget.Stopping:
        STOPPING.set()
        return None, UpstreamUnavailable("Not read: the worker stopped before its turn came.")


def upload(ctx: Context, target: Target) -> None:
    """The build's file to the device (or the copy already there)."""
    ledger = list(
        target.steps.filter(kind__in=[Step.Kind.UPLOAD, Step.Kind.FIND_EXISTING]).order_by(
            "at", "pk"
        )
    )
    last = ledger[-1] if ledger else None
    if last and last.kind == Step.Kind.UPLOAD and last.outcome in (
        Step.Outcome.UNKNOWN, Step.Outcome.PENDING,
    ):  # fmt: skip
        # Whether it arrived is read in the firmware list, never guessed.
        find_existing(ctx, target, "The upload's answer never came")
        return
    earlier = [step for step in ledger if step.kind == Step.Kind.UPLOAD]
    if sum(s.outcome == Step.Outcome.ERROR for s in earlier) >= UPLOAD_TRIES:
        end(target, Target.State.FAILED, f"Upload failed: {earlier[-1].message}")
        return
    build = ctx.build()
    step = _step(target, Step.Kind.UPLOAD)
    content = ctx.content()
    sent = {
        "build": build.pk,
        "name": build.name,
        "version": build.version,
        "bytes": len(content),
        "md5": build.md5,
    }

    def call() -> Any:
        return ctx.writer.upload_firmware(
            target.device_uid,
            name=build.name,
            version=build.version,
            notes=build.notes,
            file=BytesIO(content),
            filename=build.filename or "firmware.bin",
            size=len(content),
        )

    outcome = _write(ctx, target, "firmware.upload", call, sent, success="Uploaded.")
    error = outcome.error
    if outcome.ok:
        fw = outcome.answer if isinstance(outcome.answer, dict) else {}
        upstream = md5_in(fw)
        if upstream and upstream != target.target_md5:
            _answer(
                step,
                outcome,
                result=Step.Outcome.ERROR,
                message=f"The device service reports md5 {upstream}, not {target.target_md5}.",
            )
            end(target, Target.State.FAILED, "The upload arrived damaged (another md5).")
            return
        _answer(step, outcome, message=f"Uploaded, firmware id {fw.get('id')}.")
        _move(
            target,
            Target.State.TARGETING,
            firmware_id=str(fw.get("id") or "")[:20],
            firmware_md5=upstream or target.target_md5,
        )
    elif error is not None and error.message.strip() == DUPLICATE:
        _answer(step, outcome, result=Step.Outcome.OK, message=error.message)
        find_existing(ctx, target, "")
    elif _throttled(ctx, target, error):
        _answer(step, outcome)
    elif outcome.unknown:
        _answer(step, outcome)
        find_existing(ctx, target, "The upload's answer never came")
    else:
        _answer(step, outcome)
        _move(target, Target.State.UPLOADING, after=poll_seconds())


def find_existing(ctx: Context, target: Target, why: str) -> None:
    """Read the device's firmware list for the build's copy: its id and md5."""
    firmwares, error = _read(ctx, ctx.reader.list_firmwares, target.device_uid)
    if error is not None:
        _note(target, Step.Kind.FIND_EXISTING, Step.Outcome.ERROR, error.message)
        if not _throttled(ctx, target, error):
            _move(target, target.state, after=poll_seconds())
        return
    match = next((fw for fw in firmwares if md5_in(fw) == target.target_md5), None)
    if match is None:
        # Not there: the unknown upload did not arrive; it is made again (a duplicate is
        # refused upstream, so this can never store it twice).
        Step.objects.create(
            target=target,
            kind=Step.Kind.FIND_EXISTING,
            outcome=Step.Outcome.WARNING,
            message=f"{why + ': ' if why else ''}the build is not in the device's firmware list.",
        )  # always kept (never merged with an earlier one): the next upload follows it
        _move(target, Target.State.UPLOADING)
        return
    fid = str(match.get("id") or "")[:20]
    _note(
        target,
        Step.Kind.FIND_EXISTING,
        Step.Outcome.OK,
        f"Already uploaded: firmware id {fid}, md5 {target.target_md5}.",
    )
    _move(target, Target.State.TARGETING, firmware_id=fid, firmware_md5=target.target_md5)


def set_target(ctx: Context, target: Target) -> None:
    earlier = list(target.steps.filter(kind=Step.Kind.SET_TARGET))
    if sum(s.outcome == Step.Outcome.ERROR for s in earlier) >= UPLOAD_TRIES:
        end(target, Target.State.FAILED, f"Setting the target failed: {earlier[-1].message}")
        return
    accepted = sum(s.outcome in (Step.Outcome.OK, Step.Outcome.UNKNOWN) for s in earlier)
    if accepted >= UPLOAD_TRIES:
        # Each was taken, yet the detail read after it never showed the build as the target:
        # setting it again would go on for ever.
        end(target, Target.State.FAILED, NOT_TAKEN.format(accepted))
        return
    refused = [s for s in earlier if s.outcome == Step.Outcome.WARNING and s.status_code != 429]
    if len(refused) >= REFUSALS:
        end(target, Target.State.FAILED, f"Setting the target was refused: {refused[-1].message}")
        return
    step = _step(target, Step.Kind.SET_TARGET)
    sent = {"md5": target.target_md5, "firmware_id": target.firmware_id}
    outcome = _write(
        ctx,
        target,
        "firmware.set_target",
        lambda: ctx.writer.set_target(target.device_uid, target.target_md5),
        sent,
        success="Firmware assigned to device.",
    )
    _answer(step, outcome)
    if outcome.ok or outcome.unknown:
        # An unknown answer is checked by the detail read before the trigger.
        _move(target, Target.State.TRIGGERING)
    elif _throttled(ctx, target, outcome.error):
        pass
    elif getattr(outcome.error, "status", None) == 404 and ctx.rollout.build_id:
        _move(target, Target.State.UPLOADING, why=outcome.message)  # the copy is gone
    else:
        _move(target, Target.State.TARGETING, after=poll_seconds())


def _triggered(target: Target) -> bool:
    """A trigger was sent (or may have been): never send another."""
    return (
        target.steps.filter(kind=Step.Kind.TRIGGER).exclude(outcome=Step.Outcome.WARNING).exists()
    )


def trigger(ctx: Context, target: Target) -> None:
    """Start the update once the device is online on the right target; at most once. A
    device already on the build is not triggered (a rollback's only once its target is the
    build too: its set-target step set it back)."""
    if target.triggered_at is not None or _triggered(target):
        _move(target, Target.State.FOLLOWING, triggered_at=target.triggered_at or timezone.now())
        follow(ctx, target)
        return
    detail, error = _read(ctx, ctx.reader.get_device, target.device_uid)
    now = timezone.now()
    if error is not None:
        _note(target, Step.Kind.READ, Step.Outcome.ERROR, error.message)
        if not _throttled(ctx, target, error):
            _move(target, target.state, after=poll_seconds())
        return
    rollouts.observe(target, detail)
    _keep(target, "last_ip", "last_rssi", "description", "last_seen_at")
    current = md5_in(detail.get("current_firmware"))
    targeted = md5_in(detail.get("target_firmware")) == target.target_md5
    rollback = ctx.rollout.rollback_of_id is not None
    if current == target.target_md5 and not (rollback and not targeted):
        # A rollback's device already on the build had its target set back just before
        # (planning kept it for that, rollouts.decide): nothing to trigger.
        said = SET_BACK if rollback else "Already running the target build."
        _note(target, Step.Kind.READ, Step.Outcome.OK, said)
        _soak(ctx, target)
        return
    if not targeted:
        _note(target, Step.Kind.READ, Step.Outcome.WARNING, "Its target is not the build yet.")
        _move(target, Target.State.TARGETING)
        return
    if not online(detail):
        if target.deadline is None:
            target.deadline = now + timedelta(seconds=ctx.rollout.offline_wait_seconds)
            _keep(target, "deadline")
        if now >= target.deadline:
            end(
                target,
                Target.State.MISSED,
                "Offline when its turn came, and not back before the deadline.",
            )
            return
        _note(target, Step.Kind.READ, Step.Outcome.WARNING, "Offline: waiting for its return.")
        _move(target, target.state, after=poll_seconds())
        return
    with transaction.atomic():
        # Under the rollout's lock: a pause or the threshold committed before this is seen.
        locked = Rollout.objects.select_for_update().get(pk=ctx.rollout.pk)
        if locked.state != Rollout.State.RUNNING:
            _move(target, target.state, after=poll_seconds())
            return
        step = Step.objects.create(
            target=target, kind=Step.Kind.TRIGGER, claimed_by=engine.worker_id()
        )
        target.triggered_at = now
        target.deadline = now + timedelta(seconds=locked.follow_timeout_seconds)
        target.seen_offline = False
        target.seen_updating = ota_status(detail) not in ENDED_OTA
        target.trigger_last_ota_at = ota_mark(detail)
        _save(
            target,
            "triggered_at",
            "deadline",
            "seen_offline",
            "seen_updating",
            "trigger_last_ota_at",
        )
    outcome = _write(
        ctx,
        target,
        "firmware.ota",
        lambda: ctx.writer.trigger_ota(target.device_uid),
        {"md5": target.target_md5},
        success="OTA check triggered.",
    )
    error = outcome.error
    refused = outcome.level == "warning" and error is not None and error.status in (409, 429)
    refused = refused or isinstance(error, RateLimited)
    if refused or (outcome.level == "error" and error is None):
        # The upstream said no (offline, throttled), or the portal refused it: nothing started.
        _answer(step, outcome, result=Step.Outcome.WARNING)
        target.triggered_at = None
        target.deadline = None
        _keep(target, "triggered_at", "deadline")
        if not _throttled(ctx, target, error):
            _move(target, target.state, after=poll_seconds())
        return
    if outcome.level == "warning" and getattr(error, "status", None) == 422:
        _answer(step, outcome, result=Step.Outcome.WARNING)  # "Assign firmware first"
        _move(target, Target.State.TARGETING, triggered_at=None, deadline=None)
        return
    # Accepted, unknown, or a failure with no answer: followed from here, never sent again.
    unknown = outcome.unknown or isinstance(error, UpstreamUnavailable | OutcomeUnknown)
    _answer(step, outcome, result=Step.Outcome.UNKNOWN if unknown and not outcome.ok else "")
    # The first look at once: it sees the update under way (the upstream's status word
    # changes at the trigger), which tells a later "ended on the old build" from no change.
    _move(target, Target.State.FOLLOWING)


def ota_status(detail: dict[str, Any]) -> str:
    """The detail's `meta.ota_status` word when the upstream gives one (else "")."""
    meta = detail.get("meta") if isinstance(detail.get("meta"), dict) else {}
    ota = meta.get("ota_status")
    return ota.strip().lower() if isinstance(ota, str) else ""


def ota_mark(detail: dict[str, Any]) -> str:
    """The detail's `last_ota_at` as a mark to compare with another, never with a clock.

    "" when it is null, missing or not a string or a number. A timestamp that parses is
    written in one form (UTC ISO 8601 when it has an offset), so one moment written two ways
    is one mark; anything else (garbage from a broken or hostile upstream) is kept as the
    text it was, NUL and surrogates escaped and cut to 40 characters (what the Target
    stores): only "equal or not" is ever asked of it, so no value can make it raise. Two
    different values alike in their first characters read as equal: that signal is then
    missed, and the others (offline, the OTA status, the follow timeout) still hold.
    """
    value = detail.get("last_ota_at")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    if not isinstance(value, str):
        try:
            value = str(value) if math.isfinite(value) else ""
        except (ValueError, OverflowError):  # an integer too big for a float, or to write out
            return ""
    value = value.strip()
    if not value:
        return ""
    if len(value) <= 64:
        try:
            when = display.parse_time(value)
            if when is not None:
                if when.tzinfo is not None:
                    when = when.astimezone(UTC)
                value = when.isoformat()
        except (ValueError, OverflowError):  # a moment outside what datetime can hold
            pass
    return storable.text(value, MARK_LENGTH)


def online(detail: dict[str, Any]) -> bool:
    status = detail.get("status")
    if isinstance(status, str) and status.strip().lower() in OFFLINE_WORDS:
        return False
    flag = detail.get("is_online")
    return flag is True or (flag is None and status not in (None, ""))


def follow(ctx: Context, target: Target) -> None:
    """Read the detail and decide: soaking, healthy, failed, timed out, needs a visit."""
    detail, error = _read(ctx, ctx.reader.get_device, target.device_uid)
    now = timezone.now()
    deadline = target.deadline or now
    if error is not None:
        _note(target, Step.Kind.POLL, Step.Outcome.ERROR, error.message)
        if _throttled(ctx, target, error):
            return
        if now >= deadline:
            end(target, Target.State.TIMED_OUT, f"Stopped answering: {error.message}")
        else:
            _move(target, target.state, after=poll_seconds())
        return
    rollouts.observe(target, detail)
    _keep(target, "last_ip", "last_rssi", "description", "last_seen_at")
    current = md5_in(detail.get("current_firmware"))
    ota = ota_status(detail)
    if ota and ota not in ENDED_OTA and not target.seen_updating:
        target.seen_updating = True
        _keep(target, "seen_updating")
    version = (
        display.text((detail.get("current_firmware") or {}).get("version"))
        if isinstance(detail.get("current_firmware"), dict)
        else ""
    )
    is_online = online(detail)
    if not is_online:
        if not target.seen_offline:
            target.seen_offline = True
            _keep(target, "seen_offline")
        _note(target, Step.Kind.POLL, Step.Outcome.WARNING, "Offline.")
        if now >= deadline:
            end(
                target,
                Target.State.NEEDS_VISIT,
                f"Went offline and did not come back within "
                f"{ctx.rollout.follow_timeout_seconds} s.",
            )
        else:
            _move(target, target.state, after=poll_seconds())
        return
    if current == target.target_md5:
        if target.state == Target.State.SOAKING:
            if now >= deadline:
                _note(
                    target,
                    Step.Kind.POLL,
                    Step.Outcome.OK,
                    "Still online on the target after the soak.",
                )
                end(target, Target.State.HEALTHY, "")
            else:
                _move(target, target.state, after=_soak_poll(ctx, deadline, now))
            return
        _note(
            target,
            Step.Kind.POLL,
            Step.Outcome.OK,
            f"Runs the target{f' ({version})' if version else ''}.",
        )
        _soak(ctx, target)
        return
    back = target.seen_offline or (target.seen_updating and ota in ENDED_OTA)
    back = back or _attempt_ended(target, detail, ota)
    if back and current and current == target.previous_md5:
        _note(target, Step.Kind.POLL, Step.Outcome.ERROR, "Came back on the old build.")
        end(target, Target.State.FAILED, "Came back on the old build.")
        return
    if back and current and current != target.previous_md5:
        _note(
            target,
            Step.Kind.POLL,
            Step.Outcome.ERROR,
            f"Came back on another build (md5 {current}).",
        )
        end(target, Target.State.FAILED, f"Came back on another build (md5 {current}).")
        return
    if target.state == Target.State.SOAKING:
        # Was on the target, now not: it went back by itself.
        _note(target, Step.Kind.POLL, Step.Outcome.ERROR, "Left the target build during the soak.")
        end(target, Target.State.FAILED, "Left the target build during the soak.")
        return
    _note(target, Step.Kind.POLL, Step.Outcome.OK, f"Updating{f' ({ota})' if ota else ''}.")
    if now >= deadline:
        end(
            target,
            Target.State.TIMED_OUT,
            f"Did not report the target within {ctx.rollout.follow_timeout_seconds} s.",
        )
    else:
        _move(target, target.state, after=poll_seconds())


def _attempt_ended(target: Target, detail: dict[str, Any], ota: str) -> bool:
    """The device's `last_ota_at` moved since the read before the trigger: its OTA attempt
    ended, whether or not a read caught the restart (which can be shorter than the poll
    interval). Not while its `meta.ota_status`, when given, says the update is under way; not
    for a device triggered before the mark was kept (None).

    The reference does not say when `last_ota_at` is written: an upstream may stamp the
    trigger itself. So where no status word says otherwise, a mark already moved at the
    first look after the trigger (made at once, long before any real OTA can have ended) is
    taken as the trigger's stamp: it becomes the mark, and the next move is the end."""
    before = target.trigger_last_ota_at
    if before is None or (ota and ota not in ENDED_OTA):
        return False
    now = ota_mark(detail)
    if not now or now == before:
        return False
    if not ota and not _looked_since_trigger(target):
        target.trigger_last_ota_at = now
        _keep(target, "trigger_last_ota_at")
        return False
    return True


def _looked_since_trigger(target: Target) -> bool:
    """Whether a poll of the device's detail was made since its trigger."""
    polls = target.steps.filter(kind=Step.Kind.POLL)
    return polls.filter(at__gte=target.triggered_at).exists() if target.triggered_at else True


def _soak(ctx: Context, target: Target) -> None:
    soak = ctx.rollout.soak_seconds
    if soak <= 0:
        end(target, Target.State.HEALTHY, "")
        return
    until = timezone.now() + timedelta(seconds=soak)
    _move(
        target, Target.State.SOAKING, deadline=until, after=_soak_poll(ctx, until, timezone.now())
    )


def _soak_poll(ctx: Context, until: Any, now: Any) -> float:
    """During the soak, a look every quarter of it (at least the poll interval), and one at
    its end."""
    left = (until - now).total_seconds()
    every = max(poll_seconds(), ctx.rollout.soak_seconds / 4)
    return max(0.0, min(left, every))


# --- recovery -------------------------------------------------------------------------------


def revive() -> int:
    """Settle what dead workers left in rollouts: their pending write steps become unknown
    (never made again by themselves: a trigger is followed, an upload is looked for), their
    claimed devices are freed, and rollouts no live worker advances are queued again.
    Returns how many steps became unknown."""
    cutoff = timezone.now() - timedelta(seconds=settings.PORTAL_FLEET_WORKER_TIMEOUT)
    live = list(Worker.objects.filter(seen_at__gte=cutoff).values_list("id", flat=True))
    with transaction.atomic():
        settled = (
            Step.objects.filter(outcome=Step.Outcome.PENDING)
            .exclude(claimed_by__in=live)
            .update(outcome=Step.Outcome.UNKNOWN, message=STALE)
        )
        Target.objects.exclude(claimed_by="").exclude(claimed_by__in=live).update(claimed_by="")
    active = Rollout.objects.filter(
        state__in=[
            Rollout.State.RUNNING,
            Rollout.State.PAUSED,
            Rollout.State.ABORTED,
            Rollout.State.SCHEDULED,
        ]
    )
    for rollout in active:
        if has_work(rollout) and not _is_advanced(rollout, set(live)):
            with transaction.atomic():
                rollouts.enqueue(rollout)
    return settled


def has_work(rollout: Rollout) -> bool:
    """Whether a worker has something to do for this rollout now or by itself later (not a
    manual promote, a resume or an approval, which queue it themselves)."""
    if rollout.state == Rollout.State.SCHEDULED:
        return True
    if Target.objects.filter(rollout=rollout).filter(claimable(rollout)).exists():
        return True
    if rollout.state != Rollout.State.RUNNING:
        return False
    waves = set(rollout.waves.values_list("state", flat=True))
    if Wave.State.RUNNING in waves:
        return True  # its devices wait for the window, or it waits to be judged
    return Wave.State.PENDING in waves and rollout.promote == Rollout.Promote.AUTO


def _is_advanced(rollout: Rollout, live: set[str]) -> bool:
    """A task of this rollout waits for a worker, or runs on a worker that is alive."""
    from django_tasks_db.models import DBTaskResult

    tasks = DBTaskResult.objects.filter(task_path=rollouts.ADVANCE, status__in=["READY", "RUNNING"])
    for task in tasks.only("status", "args_kwargs", "worker_ids"):
        if (task.args_kwargs or {}).get("args") != [rollout.pk]:
            continue
        if task.status == "READY" or (task.worker_ids and task.worker_ids[-1] in live):
            return True
    return False
