"""Starting, cancelling and retrying jobs: what the pages call (fleet/engine.py runs them).

Each is one write of the portal's own records through the core's one write path, so each has
its one audit row (`fleet.job_create`, `fleet.job_cancel`, `fleet.job_retry`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest
from django.utils import timezone

from fleet.models import Job, JobItem
from portal.models import ApiToken
from portal.outcomes import Actor, Done, Outcome, Refused, perform

# Who may start (and cancel, and retry) each kind of job: the permission of the same action on
# one device.
PERMISSION = {
    Job.Action.REBOOT: "reboot_device",
    Job.Action.OTA: "trigger_ota",
    Job.Action.WIFI_RESET: "wifi_reset",
    Job.Action.BUTTON: "send_button",
    Job.Action.COMMAND: "send_command",
    Job.Action.TAG_ADD: "manage_tags",
    Job.Action.TAG_REMOVE: "manage_tags",
}


def enqueue(job: Job) -> None:
    """Hand the job to a worker once the transaction that made or changed it has committed."""
    from fleet.tasks import run_job

    transaction.on_commit(lambda: run_job.enqueue(job.pk))


def create(
    actor: HttpRequest | Actor,
    token: ApiToken,
    action: str,
    devices: Iterable[tuple[str, str, bool]],
    *,
    params: Mapping[str, Any] | None = None,
    offline: str = Job.Offline.SKIP,
    wait_minutes: int = 0,
) -> Outcome:
    """A job over `devices` (uid, name as shown, looks online), queued for a worker.

    Devices that look offline are skipped at once under Offline.SKIP, with the reason.
    """
    who = Actor.of(actor)
    listed = list(dict.fromkeys((uid, name, online) for uid, name, online in devices))
    params = dict(params or {})

    def make() -> Done:
        if not listed:
            raise Refused("Select at least one device.")
        now = timezone.now()
        job = Job.objects.create(
            token=token,
            token_label=token.label,
            action=action,
            params=params,
            offline=offline,
            wait_until=now + timedelta(minutes=wait_minutes)
            if offline == Job.Offline.WAIT
            else None,
            created_by=who.user if getattr(who.user, "is_authenticated", False) else None,
            created_by_name=who.user.get_username() if who.user else "",
            created_ip=who.ip,
        )
        seen: set[str] = set()
        items = []
        for position, (uid, name, online) in enumerate(listed):
            if uid in seen:
                continue
            seen.add(uid)
            skip = offline == Job.Offline.SKIP and not online
            items.append(
                JobItem(
                    job=job,
                    position=position,
                    device_uid=uid,
                    device_name=name[:100],
                    state=JobItem.State.SKIPPED if skip else JobItem.State.WAITING,
                    message="Looked offline when the job was created." if skip else "",
                    finished_at=now if skip else None,
                )
            )
        JobItem.objects.bulk_create(items, batch_size=500)
        queued = sum(item.state == JobItem.State.WAITING for item in items)
        skipped = len(items) - queued
        if queued:
            enqueue(job)
        else:  # nothing to send: the job has ended before it began
            job.state, job.finished_at = Job.State.DONE, now
            job.save(update_fields=["state", "finished_at"])
        message = f"{job.get_action_display()} queued for {_devices(queued)} (job {job.pk})."
        if skipped:
            message += f" {_devices(skipped)} that looked offline skipped."
        sent = {"job": job.pk, "devices": len(items), "queued": queued, "skipped": skipped}
        return Done(answer=job, message=message, sent=sent)

    with transaction.atomic():
        return perform(
            who,
            "fleet.job_create",
            make,
            sent={"action": action, "offline": offline, **params},
        )


def _devices(count: int) -> str:
    return f"{count} device" if count == 1 else f"{count} devices"


def cancel(actor: HttpRequest | Actor, job: Job) -> Outcome:
    """Nothing that has not started starts; what is in flight ends as it ends."""

    def stop() -> Done:
        with transaction.atomic():
            locked = Job.objects.select_for_update().get(pk=job.pk)
            if locked.state in (Job.State.DONE, Job.State.CANCELLED):
                raise Refused(f"Job {job.pk} has already ended: nothing to cancel.")
            now = timezone.now()
            count = locked.items.filter(state=JobItem.State.WAITING).update(
                state=JobItem.State.CANCELLED,
                message="Cancelled before it started.",
                finished_at=now,
            )
            locked.state = Job.State.CANCELLED
            locked.finished_at = now
            locked.save(update_fields=["state", "finished_at"])
        message = f"Job {job.pk} cancelled: {count} devices will not be sent anything."
        return Done(answer=count, message=message, sent={"job": job.pk, "cancelled": count})

    return perform(actor, "fleet.job_cancel", stop, sent={"job": job.pk})


def retry(actor: HttpRequest | Actor, job: Job, *, unknown: bool = False) -> Outcome:
    """Send again to the failed and refused devices (and the unknown ones, when asked)."""
    states = [JobItem.State.FAILED, JobItem.State.REFUSED]
    if unknown:
        states.append(JobItem.State.UNKNOWN)

    def again() -> Done:
        with transaction.atomic():
            locked = Job.objects.select_for_update().get(pk=job.pk)
            if locked.items.filter(
                state__in=[JobItem.State.WAITING, JobItem.State.SENDING]
            ).exists():
                raise Refused(f"Job {job.pk} is still running: retry it when it has ended.")
            count = locked.items.filter(state__in=states).update(
                state=JobItem.State.WAITING, message="", status_code=None, claimed_by="",
                started_at=None, finished_at=None, not_before=None,
            )  # fmt: skip
            if not count:
                raise Refused(f"Job {job.pk} has no devices to retry.")
            locked.state = Job.State.QUEUED
            locked.finished_at = None
            locked.save(update_fields=["state", "finished_at"])
            enqueue(locked)
        message = f"Job {job.pk}: {count} devices queued again."
        return Done(answer=count, message=message, sent={"job": job.pk, "devices": count})

    return perform(actor, "fleet.job_retry", again, sent={"job": job.pk, "unknown": unknown})


def counts(job: Job) -> dict[str, int]:
    """Items per state, every state present."""
    found = dict(job.items.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    return {state: found.get(state, 0) for state in JobItem.State.values}
