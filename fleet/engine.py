"""Running a job: claim a device's item, make its one call through the core's write path,
record what came back. A task (fleet/tasks.py) calls `run(job_id)`; any number of workers may
run the same job at once, each claiming items the others have not.

Exactly once: an item is claimed (waiting -> sending, with this worker's id) by one
committed statement before its call is made, and only its claimant records the answer. A
worker that dies leaves its claimed items in `sending`; `revive()` (run by every worker, see
fleet/management/commands/db_worker.py) turns those of a worker not seen alive for
PORTAL_FLEET_WORKER_TIMEOUT into "outcome unknown" (never resent by itself) and queues the
job again for what is still waiting.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from fleet import budget
from fleet.models import Job, JobItem, Tag, Worker
from portal import audit, storable
from portal.iot import IoTClient, RateLimited
from portal.outcomes import SUCCESS, UNKNOWN, WARNING, Actor, Outcome, Refused, perform

logger = logging.getLogger("portal.fleet")

# What each action records in the audit log: the same codes as on one device's page.
AUDIT = {
    Job.Action.REBOOT: "device.reboot",
    Job.Action.OTA: "device.ota",
    Job.Action.WIFI_RESET: "device.wifi_reset",
    Job.Action.BUTTON: "button.send",
    Job.Action.COMMAND: "device.command",
    Job.Action.TAG_ADD: "tag.add",
    Job.Action.TAG_REMOVE: "tag.remove",
}
UPSTREAM = {Job.Action.REBOOT, Job.Action.OTA, Job.Action.WIFI_RESET, Job.Action.BUTTON,
            Job.Action.COMMAND}  # fmt: skip

RUN_JOB = "fleet.tasks.run_job"
_worker_id: str | None = None
# Set when this worker is asked to stop (SIGTERM: a deployment): no new item is started (one
# still waiting for its turn in the budget goes back to waiting), the calls in flight end and
# are recorded, and the job goes back in the queue for the next worker.
stopping = budget.stopping


def worker_id() -> str:
    """This process's id as a fleet worker (one per process, also its Worker row)."""
    global _worker_id
    if _worker_id is None:
        _worker_id = f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    return _worker_id


def alive() -> None:
    """Say this worker is alive (its Worker row's seen_at). Its turn among this process's
    writes (`budget.writing()`): the keep-alive thread must not meet a job's thread on
    SQLite's busy handler."""
    with budget.writing():
        _alive()


def _alive() -> None:
    Worker.objects.update_or_create(
        id=worker_id(),
        defaults={
            "seen_at": timezone.now(),
            "host": socket.gethostname()[:255],
            "pid": os.getpid(),
        },
    )


def revive() -> int:
    """Settle what dead workers left: their `sending` items become unknown, and their jobs
    that still have work are queued again. Returns how many items became unknown."""
    from fleet.jobs import enqueue

    cutoff = timezone.now() - timedelta(seconds=settings.PORTAL_FLEET_WORKER_TIMEOUT)
    dead = list(Worker.objects.filter(seen_at__lt=cutoff).values_list("id", flat=True))
    settled = 0
    with budget.writing(), transaction.atomic():
        orphans = JobItem.objects.filter(state=JobItem.State.SENDING).filter(
            Q(claimed_by__in=list(dead)) | ~Q(claimed_by__in=Worker.objects.values("id"))
        )
        jobs = set(orphans.values_list("job_id", flat=True))
        settled = orphans.update(
            state=JobItem.State.UNKNOWN,
            message="The worker sending this stopped before an answer came: the device may or "
            "may not have acted on it. Check it before trying again.",
            finished_at=timezone.now(),
        )
        for gone in dead:
            budget.release_worker(gone)  # its places in flight come back now
        Worker.objects.filter(seen_at__lt=cutoff).delete()
        # A running job that no live worker is working on: queue it again.
        stalled = Job.objects.filter(state__in=[Job.State.QUEUED, Job.State.RUNNING]).filter(
            Q(pk__in=jobs) | Q(items__state=JobItem.State.WAITING)
        )
        for job in stalled.distinct():
            if not _is_worked_on(job):
                enqueue(job)
    return settled


def _is_worked_on(job: Job) -> bool:
    """A task of this job waits for a worker, or runs on a worker that is alive."""
    from django_tasks_db.models import DBTaskResult

    live = set(Worker.objects.values_list("id", flat=True))
    tasks = DBTaskResult.objects.filter(task_path=RUN_JOB, status__in=["READY", "RUNNING"])
    for task in tasks.only("status", "args_kwargs", "worker_ids"):
        if (task.args_kwargs or {}).get("args") != [job.pk]:
            continue
        if task.status == "READY" or (task.worker_ids and task.worker_ids[-1] in live):
            return True
    return False


def run(job_id: int, fan_out: bool = True) -> None:
    """Work on one job until nothing is left that this worker can start.

    Up to PORTAL_FLEET_MAX_IN_FLIGHT threads send the job's items at once, each with its own
    database connection (closed when it ends); the budget's in-flight cap holds over every
    worker. `fan_out`: also queue more tasks of the job, one per FAN_OUT_ITEMS waiting items
    up to FAN_OUT_TASKS, so that other workers join in.
    """
    alive()
    job = Job.objects.select_related("token", "created_by").filter(pk=job_id).first()
    if job is None or job.state in (Job.State.DONE, Job.State.CANCELLED):
        return
    Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
        state=Job.State.RUNNING, started_at=timezone.now()
    )
    if fan_out:
        _fan_out(job)
    client = _client(job)
    # The token label of the audit rows, read once for the run rather than once a row.
    actor = Actor(
        user=job.created_by, ip=job.created_ip, token_label=audit.token_label_of(job.created_by)
    )
    presence = _Presence(job, client)
    waiting = JobItem.objects.filter(job=job, state=JobItem.State.WAITING).count()
    threads = min(settings.PORTAL_FLEET_MAX_IN_FLIGHT, waiting) if job.action in UPSTREAM else 1
    if threads <= 1:
        _work_on(job, client, actor, presence)
    else:
        with ThreadPoolExecutor(threads, thread_name_prefix=f"fleet-job-{job.pk}") as pool:
            futures = [
                pool.submit(_in_thread, _work_on, job, client, actor, presence)
                for _ in range(threads)
            ]
            for future in futures:
                future.result()
    if stopping.is_set() and _waiting_later(job):
        from fleet.jobs import enqueue

        enqueue(job)  # the rest is for the next worker
        return
    finish(job)


FAN_OUT_ITEMS = 50  # one more task per this many waiting items
FAN_OUT_TASKS = 4  # at most this many tasks of one job waiting or running


def _fan_out(job: Job) -> None:
    from django_tasks_db.models import DBTaskResult

    from fleet.tasks import run_job

    waiting = JobItem.objects.filter(job=job, state=JobItem.State.WAITING).count()
    wanted = min(FAN_OUT_TASKS, -(-waiting // FAN_OUT_ITEMS))
    tasks = DBTaskResult.objects.filter(task_path=RUN_JOB, status__in=["READY", "RUNNING"])
    have = sum(
        1 for t in tasks.only("args_kwargs") if (t.args_kwargs or {}).get("args") == [job.pk]
    )
    for _ in range(wanted - have):
        run_job.enqueue(job.pk, fan_out=False)


def _in_thread(function: Any, *args: Any) -> None:
    try:
        function(*args)
    finally:
        connection.close()


def _work_on(job: Job, client: IoTClient | None, actor: Actor, presence: _Presence) -> None:
    last_alive = time.monotonic()
    while not stopping.is_set():
        if time.monotonic() - last_alive > settings.PORTAL_FLEET_WORKER_TIMEOUT / 4:
            alive()
            last_alive = time.monotonic()
        item = claim(job)
        if item is None:
            budget.let_go(job.token_id)  # nothing to send now: the place is another's
            if _waiting_later(job):
                stopping.wait(0.5)
                continue
            break
        try:
            work(job, item, client, actor, presence)
        except budget.Stopping:
            put_back(item)  # never sent: the next worker sends it
            break
    budget.let_go(job.token_id)


class _Presence:
    """Under Offline.WAIT: which of the token's devices are online, from the device list read
    at most once every PORTAL_FLEET_RECHECK_SECONDS by this worker (one fleet call each)."""

    def __init__(self, job: Job, client: IoTClient | None) -> None:
        self.job = job
        self.client = client
        self.lock = threading.Lock()
        self.read_at: float | None = None
        self.online: set[str] | None = None

    def is_online(self, uid: str) -> bool | None:
        """None: not known (the list could not be read), so the upstream decides."""
        with self.lock:
            stale = self.read_at is None or (
                time.monotonic() - self.read_at >= settings.PORTAL_FLEET_RECHECK_SECONDS
            )
            if stale and self.client is not None:
                self.read_at = time.monotonic()
                self._read()
            return None if self.online is None else uid in self.online

    def _read(self) -> None:
        from portal.iot import IoTError
        from portal.presence import Rule

        try:
            with budget.slot(self.job.token_id, keep=True):
                devices = _paused_on_429(self.job, self.client.list_devices)
        except IoTError as error:
            logger.warning("job %s: the device list could not be read (%s)", self.job.pk, error)
            return
        rule = Rule()
        self.online = {d.uid for d in devices if rule.online(d.is_online, d.last_seen_at)}


# Constants only: every value is a parameter.
_CLAIM = (
    "UPDATE fleet_jobitem SET state = %s, claimed_by = %s, started_at = %s, "
    "attempts = attempts + 1 WHERE state = %s AND id = ("
    "SELECT id FROM fleet_jobitem WHERE job_id = %s AND state = %s "
    "AND (not_before IS NULL OR not_before <= %s) ORDER BY position, id LIMIT 1{lock}) "
    "AND EXISTS (SELECT 1 FROM fleet_job WHERE id = %s AND state = %s) RETURNING *"
)


def claim(job: Job) -> JobItem | None:
    """The next waiting item of a job still running, now this worker's (or None).

    One statement, committed by itself: the item is taken (waiting -> sending, with this
    worker's id) only if it is still waiting and its job still running, so two claimants
    never both get it (PostgreSQL: the row is locked, SKIP LOCKED; SQLite: the statement
    holds the database's write lock)."""
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    sql = _CLAIM.format(lock=skip_locked)
    params = [
        JobItem.State.SENDING, worker_id(), stamp, JobItem.State.WAITING,
        job.pk, JobItem.State.WAITING, stamp, job.pk, Job.State.RUNNING,
    ]  # fmt: skip
    with budget.writing():
        claimed = list(JobItem.objects.raw(sql, params))
    return claimed[0] if claimed else None


def _waiting_later(job: Job) -> bool:
    return (
        Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).exists()
        and JobItem.objects.filter(job=job, state=JobItem.State.WAITING).exists()
    )


def work(
    job: Job,
    item: JobItem,
    client: IoTClient | None,
    actor: Actor,
    presence: _Presence | None = None,
) -> None:
    """Make the item's one write and record its answer."""
    if job.action in UPSTREAM and client is None:
        outcome = Outcome("error", "The job's API token is gone or cannot be read.")
    elif job.action in UPSTREAM:
        if (
            job.offline == Job.Offline.WAIT
            and presence is not None
            and not _present(job, item, presence)
        ):
            return
        buttons: list[Any] | Exception | None = None
        if job.action == Job.Action.BUTTON:
            buttons = _buttons(job, item, client)
        with budget.slot(job.token_id, keep=True):
            # Cancelled while it waited its turn: it has not started, so it never does.
            waited = (timezone.now() - item.started_at).total_seconds() > 0.05
            if waited and _cancelled(job):
                put_back(item, cancelled=True)
                return
            turn = budget.Turn()
            try:
                outcome = perform(
                    actor,
                    AUDIT[job.action],
                    lambda: turn.after(
                        lambda: _paused_on_429(job, lambda: _call(job, item, client, buttons)),
                        # The job's client leaves this to its caller: the token's cached
                        # reads are forgotten in the transaction that records the write.
                        then=client.invalidate,
                    ),
                    device_uid=item.device_uid,
                    device_name=item.device_name,
                    sent={"job": job.pk, **_sent(job)},
                )
                record(item, outcome)
            finally:
                turn.release()
        return
    else:
        outcome = perform(
            actor,
            AUDIT[job.action],
            lambda: _tag(job, item),
            device_uid=item.device_uid,
            device_name=item.device_name,
            sent={"job": job.pk, **_sent(job)},
        )
    record(item, outcome)


def _paused_on_429(job: Job, call: Any) -> Any:
    """Make the call; a 429 pauses the token's fleet work at once (before its audit row is
    written), so that no other call of any worker starts meanwhile."""
    try:
        return call()
    except RateLimited as error:
        seconds = error.retry_after or 60
        budget.pause(job.token_id, seconds)
        until = timezone.now() + timedelta(seconds=seconds)
        Job.objects.filter(token_id=job.token_id, state=Job.State.RUNNING).update(
            paused_until=until
        )
        raise


def _cancelled(job: Job) -> bool:
    return Job.objects.filter(pk=job.pk, state=Job.State.CANCELLED).exists()


def _present(job: Job, item: JobItem, presence: _Presence) -> bool:
    """Offline.WAIT: go on if the device is online (or not known to be offline); else wait
    for it until the job's wait_until, then skip it."""
    if presence.is_online(item.device_uid) is not False:
        return True
    now = timezone.now()
    if job.wait_until is None or now >= job.wait_until:
        JobItem.objects.filter(
            pk=item.pk, claimed_by=worker_id(), state=JobItem.State.SENDING
        ).update(
            state=JobItem.State.SKIPPED,
            message="Still offline after waiting: nothing was sent.",
            finished_at=now,
            attempts=max(0, item.attempts - 1),
        )
        return False
    recheck = now + timedelta(seconds=settings.PORTAL_FLEET_RECHECK_SECONDS)
    put_back(item, not_before=min(recheck, job.wait_until), message="Waiting for it to come back.")
    return False


def put_back(item: JobItem, *, cancelled: bool = False, not_before=None, message="") -> None:
    """An item claimed but not sent goes back to waiting (or is cancelled): nothing was sent."""
    now = timezone.now()
    changes: dict[str, Any] = {"attempts": max(0, item.attempts - 1)}
    if cancelled:
        changes.update(
            state=JobItem.State.CANCELLED, message="Cancelled before it started.", finished_at=now
        )
    else:
        changes.update(
            state=JobItem.State.WAITING, message=message, not_before=not_before, claimed_by=""
        )
    with budget.writing():
        JobItem.objects.filter(
            pk=item.pk, claimed_by=worker_id(), state=JobItem.State.SENDING
        ).update(**changes)


def _buttons(job: Job, item: JobItem, client: IoTClient) -> list[Any] | Exception:
    """The device's command buttons (a read, its own fleet call), or the error reading them."""
    from portal.iot import IoTError

    try:
        with budget.slot(job.token_id, keep=True):
            return _paused_on_429(job, lambda: client.list_buttons(item.device_uid))
    except IoTError as error:
        return error


def _sent(job: Job) -> dict[str, Any]:
    return {key: job.params[key] for key in ("button_id", "payload", "tag") if key in job.params}


def _call(job: Job, item: JobItem, client: IoTClient, buttons: Any = None) -> Any:
    uid = item.device_uid
    if job.action == Job.Action.REBOOT:
        return client.reboot(uid)
    if job.action == Job.Action.OTA:
        return client.trigger_ota(uid)
    if job.action == Job.Action.WIFI_RESET:
        return client.wifi_reset(uid)
    if job.action == Job.Action.COMMAND:
        return client.send_command(uid, job.params["payload"])
    if job.action == Job.Action.BUTTON:
        button_id = str(job.params["button_id"])
        if isinstance(buttons, Exception):
            raise buttons
        if not any(str(b.get("id")) == button_id for b in buttons or []):
            item.skipped = True  # type: ignore[attr-defined]
            raise Refused(f"Skipped: this device has no command button “{button_id}”.")
        return client.send_button(uid, button_id)
    raise ValueError(job.action)


def _tag(job: Job, item: JobItem) -> str:
    name = job.params["tag"]
    if job.action == Job.Action.TAG_ADD:
        from fleet.models import DeviceTag

        tag = Tag.objects.filter(token=job.token, name__iexact=name).first() or Tag.objects.create(
            token=job.token, name=name
        )
        DeviceTag.objects.get_or_create(tag=tag, device_uid=item.device_uid)
        return f"Tag “{tag.name}” added."
    tag = Tag.objects.filter(token=job.token, name__iexact=name).first()
    if tag:
        tag.devices.filter(device_uid=item.device_uid).delete()
    return f"Tag “{name}” removed."


def record(item: JobItem, outcome: Outcome) -> None:
    """The item's answer, written only by the worker that claimed it."""
    error = outcome.error
    if isinstance(error, RateLimited):
        # Nothing was done: its turn comes again after the token's pause (its audit row says
        # it was throttled; the item's final state comes with a later attempt).
        state, message = (
            JobItem.State.WAITING,
            "Throttled by the device service: sent again after its pause.",
        )
    elif outcome.level == SUCCESS:
        state, message = JobItem.State.SENT, outcome.message
    elif outcome.level == UNKNOWN:
        state, message = JobItem.State.UNKNOWN, outcome.message
    elif outcome.level == WARNING:
        state, message = JobItem.State.REFUSED, outcome.message
    elif getattr(item, "skipped", False):  # left out for a reason of its own: nothing sent
        state, message = JobItem.State.SKIPPED, outcome.message
    else:
        state, message = JobItem.State.FAILED, outcome.message
    final = state != JobItem.State.WAITING
    with budget.writing():
        _settle(item, state, message, error, final, outcome)


def _settle(item, state, message, error, final, outcome) -> None:
    JobItem.objects.filter(pk=item.pk, claimed_by=worker_id(), state=JobItem.State.SENDING).update(
        state=state,
        message=storable.text(message, 500),
        status_code=getattr(error, "status", None),
        finished_at=timezone.now() if final else None,
        claimed_by="" if not final else item.claimed_by,
        audit=outcome.event,
    )


def finish(job: Job) -> None:
    """Done when no item is left waiting or in flight."""
    open_states = [JobItem.State.WAITING, JobItem.State.SENDING]
    with transaction.atomic():
        if JobItem.objects.filter(job=job, state__in=open_states).exists():
            return
        Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
            state=Job.State.DONE, finished_at=timezone.now()
        )


def _client(job: Job) -> IoTClient | None:
    token = job.token
    if token is None:
        return None
    try:
        plaintext = token.value()
    except Exception:
        logger.error("job %s: token %s cannot be decrypted", job.pk, token.label)
        return None
    # Its writes do not forget the token's cached reads themselves: `work` does, in the
    # transaction that records the write (one database write fewer a device).
    return IoTClient(plaintext, cache_id=token.pk, invalidate_on_write=False)
