"""What one device of a rollout costs the database (fleet/rollout_engine.py): the worker's
loop, `advance`, run in this process against the emulator, every statement counted and
given to the loop's turn it was made in (a turn ends with the device's release).

With a poll interval of 0 a device in flight is always due, so no turn is spent waiting
and the count is the same from run to run, but for the number of follow polls (how long
the emulator's OTA takes): each poll is bounded, and so is the rest of the path."""

from __future__ import annotations

import pytest
from django.db import connection

from fleet import rollout_engine, rollouts
from fleet.models import Rollout, Step, Target
from portal.models import AuditEvent
from portal.outcomes import Actor
from tests.test_fleet_rollouts import a_build, devices, planned, triggers

# The whole no-failure path of one device, its follow polls apart: the upload, the set
# target, the read and the trigger (each write: its step committed first, the audit row, the
# answer; the trigger under the rollout's lock), the first wave opened, judged and the
# rollout finished, and each turn's claim, release and look at the rollout. It was 118.
QUERIES_PER_PATH = 89
# One follow poll: the rollout read, the count of devices in progress, the claim (its
# transaction, the row locked, the claim written), the budget's pause check, the ledger's
# last row (and a new one when the poll says something new), the release with what the
# read said. It was 16 to 18.
QUERIES_PER_POLL = 9


@pytest.fixture
def in_process(settings, monkeypatch, emulator):
    settings.PORTAL_ROLLOUT_POLL_SECONDS = 0  # a device in flight is always due
    settings.PORTAL_CALLS_PER_MINUTE = 0
    settings.REDIS_URL = ""
    emulator.set_time_scale(20)
    monkeypatch.setattr(rollout_engine.rollouts, "enqueue", lambda *a, **k: None)


def turns(monkeypatch, rollout: Rollout) -> list[tuple[str, int]]:
    """(what the turn did, its statements) for each turn of the loop, then ("end", n) for
    what came after the last release (the wave judged, the rollout finished)."""
    count = 0
    done: list[tuple[str, int]] = []
    kind = ""
    claim, release = rollout_engine.claim, rollout_engine.release

    def claimed(*args, **kwargs):
        nonlocal kind
        target = claim(*args, **kwargs)
        if target is not None:
            kind = target.state
        return target

    def released(target):
        nonlocal count
        release(target)
        done.append((kind, count))
        count = 0

    def counted(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    monkeypatch.setattr(rollout_engine, "claim", claimed)
    monkeypatch.setattr(rollout_engine, "release", released)
    with connection.execute_wrapper(counted):
        rollout_engine.advance(rollout.pk)
    return [*done, ("end", count)]


def one_device(emulator, token, maintainer) -> tuple[Rollout, str]:
    chosen = devices(emulator, 1)
    rollout = planned(maintainer, token, a_build(token), chosen, here=True, canary=0,
                      percents=[100], soak_seconds=0, pass_percent=100)  # fmt: skip
    assert rollouts.start(Actor(user=maintainer), rollout).ok
    return rollout, chosen[0][0]


@pytest.mark.django_db(transaction=True)
def test_one_devices_whole_no_failure_path_costs_a_bounded_number_of_queries(
    emulator, token_a, maintainer, in_process, monkeypatch
):
    rollout, uid = one_device(emulator, token_a, maintainer)
    made = turns(monkeypatch, rollout)
    rollout.refresh_from_db()
    target = rollout.targets.get()
    assert (rollout.state, target.state) == (Rollout.State.DONE, Target.State.HEALTHY)
    assert triggers(emulator, uid) == 1
    # Every write through the one write path, one audit row each.
    writes = target.steps.filter(kind__in=Step.WRITES)
    assert writes.count() == 3 == writes.exclude(audit=None).count()
    assert AuditEvent.objects.filter(device_uid=uid).count() == 3
    kinds = [kind for kind, _ in made]
    assert kinds[:3] == [Target.State.WAITING, Target.State.TARGETING, Target.State.TRIGGERING]
    path = sum(n for kind, n in made if kind != Target.State.FOLLOWING)
    assert path <= QUERIES_PER_PATH, made


@pytest.mark.django_db(transaction=True)
def test_each_follow_poll_of_a_rollout_costs_a_bounded_number_of_queries(
    emulator, token_a, maintainer, in_process, monkeypatch
):
    rollout, uid = one_device(emulator, token_a, maintainer)
    emulator.set_ota_outcome(uid, "stuck")  # followed until the timeout: many polls
    Rollout.objects.filter(pk=rollout.pk).update(follow_timeout_seconds=1)
    made = turns(monkeypatch, rollout)
    polls = [n for kind, n in made if kind == Target.State.FOLLOWING]
    assert len(polls) >= 5
    assert rollout.targets.get().state == Target.State.TIMED_OUT
    # The last one ended it (timed out: the failure threshold is looked at).
    assert max(polls[:-1]) <= QUERIES_PER_POLL, polls
