"""Helpers for the fleet's real-process tests: make a job, wait for it, count what was sent."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from emulator.server import Emulator
from fleet import jobs
from fleet.models import Job, JobItem
from portal.outcomes import Actor


def all_online(emulator: Emulator, token: str) -> list[str]:
    uids = emulator.uids(token)
    for uid in uids:
        emulator.set_device(token, uid, status="online")
    return uids


def start_job(user, token, uids: list[str], action: str = Job.Action.REBOOT, **options) -> Job:
    outcome = jobs.create(
        Actor(user=user, ip="127.0.0.1"),
        token,
        action,
        [(uid, f"Device {uid[-4:]}", True) for uid in uids],
        **options,
    )
    assert outcome.level == "success", outcome.message
    return outcome.answer


def wait_for(condition: Callable[[], bool], seconds: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds} s waiting for {what or condition}")


def ended(job: Job) -> bool:
    job.refresh_from_db()
    return job.state in (Job.State.DONE, Job.State.CANCELLED)


def states(job: Job) -> Counter:
    return Counter(job.items.values_list("state", flat=True))


def in_state(job: Job, state: str) -> list[JobItem]:
    return list(job.items.filter(state=state))


def sends(emulator: Emulator, action: str = "reboot", status: int | None = None) -> Counter:
    """Requests per device uid that reached the emulator for `action` (its own log)."""
    counts: Counter = Counter()
    for entry in emulator.request_log:
        parts = entry["path"].strip("/").split("/")
        wanted = status is None or entry["status"] == status
        if entry["method"] == "POST" and len(parts) == 5 and parts[4] == action and wanted:
            counts[parts[3]] += 1
    return counts
