"""The fleet worker as a real process (`manage.py db_worker`), against the emulator over HTTP:
killed mid-job, stopped and started again, throttled, cancelled, devices going offline."""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone

from emulator.pytest_plugin import TOKEN_A
from fleet import jobs
from fleet.models import Job, JobItem
from portal.models import AuditEvent
from portal.outcomes import Actor
from tests.fleet.helpers import all_online, ended, in_state, sends, start_job, states, wait_for


def test_a_bulk_reboot_sends_each_device_once_and_records_each_answer(
    fleet_worker, emulator, operator, token_a
):
    uids = emulator.uids(TOKEN_A)
    job = start_job(operator, token_a, uids, offline=Job.Offline.TRY)
    wait_for(lambda: ended(job), what="the job to end")
    assert job.state == Job.State.DONE
    assert set(sends(emulator).values()) == {1}
    assert set(sends(emulator)) == set(uids)
    counted = states(job)
    assert counted[JobItem.State.SENT] == 9  # the curated fleet's online devices
    assert counted[JobItem.State.REFUSED] == len(uids) - 9  # offline, pending, reconnecting
    offline = job.items.get(device_uid=emulator.device_uid(TOKEN_A, "Front Porch Light"))
    assert offline.message == "Device is offline." and offline.status_code == 409
    rows = AuditEvent.objects.filter(action="device.reboot")
    assert rows.count() == len(uids)
    assert all(item.audit_id for item in job.items.all())
    assert all(row.sent["job"] == job.pk for row in rows)


def test_a_worker_killed_mid_job_loses_nothing_and_never_sends_twice(
    fleet_worker, emulator, operator, token_a
):
    uids = all_online(emulator, TOKEN_A)
    hung = uids[3]
    emulator.set_latency(150)
    emulator.set_fault("hang", path=f"{hung}/reboot$", hang_seconds=60)
    fleet_worker.stop()
    fleet_worker.start(IOT_API_TIMEOUT="30")  # the hung call stays in flight
    job = start_job(operator, token_a, uids)
    wait_for(
        lambda: (
            job.items.filter(device_uid=hung, state=JobItem.State.SENDING).exists()
            and job.items.filter(state=JobItem.State.SENT).count() >= 4
        ),
        what="the hung device's call to be in flight",
    )
    fleet_worker.kill()
    in_flight = set(
        job.items.filter(state=JobItem.State.SENDING).values_list("device_uid", flat=True)
    )
    assert hung in in_flight
    emulator.clear_faults()  # the emulator answers to a dead socket, and logs the call
    fleet_worker.start()
    wait_for(lambda: ended(job), what="the job to end on the new worker")
    assert job.state == Job.State.DONE
    unknown = {i.device_uid for i in in_state(job, JobItem.State.UNKNOWN)}
    assert unknown == in_flight
    assert job.items.get(device_uid=hung).message.startswith("The worker sending this stopped")
    sent = {i.device_uid for i in in_state(job, JobItem.State.SENT)}
    assert sent | unknown == set(uids)
    counts = sends(emulator)
    assert all(counts[uid] == 1 for uid in sent)
    assert all(counts[uid] <= 1 for uid in unknown)  # never re-sent by itself
    assert counts[hung] == 1


def test_a_job_survives_a_restart_the_next_worker_continues_it(
    fleet_worker, emulator, operator, token_a
):
    uids = all_online(emulator, TOKEN_A)
    emulator.set_latency(200)
    fleet_worker.stop()
    fleet_worker.start(PORTAL_FLEET_MAX_IN_FLIGHT="2")
    job = start_job(operator, token_a, uids)
    wait_for(lambda: job.items.filter(state=JobItem.State.SENT).count() >= 3, what="some sends")
    fleet_worker.stop()  # SIGTERM, as a deployment does: the calls in flight end first
    assert not job.items.filter(state=JobItem.State.SENDING).exists()
    left = job.items.filter(state=JobItem.State.WAITING).count()
    assert left > 0
    job.refresh_from_db()
    assert job.state == Job.State.RUNNING
    fleet_worker.start()
    wait_for(lambda: ended(job), what="the job to end on the new worker")
    assert states(job) == {JobItem.State.SENT: len(uids)}
    assert set(sends(emulator).values()) == {1}


def test_a_cancelled_job_sends_nothing_that_had_not_started(
    fleet_worker, emulator, operator, token_a
):
    uids = all_online(emulator, TOKEN_A)
    emulator.set_latency(300)
    fleet_worker.stop()
    fleet_worker.start(PORTAL_FLEET_MAX_IN_FLIGHT="1")
    job = start_job(operator, token_a, uids)
    wait_for(lambda: job.items.filter(state=JobItem.State.SENT).count() >= 2, what="two sends")
    assert jobs.cancel(Actor(user=operator, ip="127.0.0.1"), job).level == "success"
    wait_for(lambda: not job.items.filter(state=JobItem.State.SENDING).exists(), what="calm")
    time.sleep(1)  # time for a call that should not happen
    counted = states(job)
    assert counted[JobItem.State.CANCELLED] >= len(uids) - 4
    started = {i.device_uid for i in job.items.exclude(state=JobItem.State.CANCELLED)}
    assert set(sends(emulator)) == started
    assert set(sends(emulator).values()) == {1}
    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED


def test_devices_going_offline_mid_job_are_refused_with_the_upstreams_message(
    fleet_worker, emulator, operator, token_a
):
    uids = all_online(emulator, TOKEN_A)
    emulator.set_latency(200)
    fleet_worker.stop()
    fleet_worker.start(PORTAL_FLEET_MAX_IN_FLIGHT="1")
    job = start_job(operator, token_a, uids, offline=Job.Offline.TRY)
    wait_for(lambda: job.items.filter(state=JobItem.State.SENT).count() >= 2, what="two sends")
    gone = uids[-3:]
    for uid in gone:
        emulator.set_device(TOKEN_A, uid, status="offline")
    wait_for(lambda: ended(job), what="the job to end")
    for uid in gone:
        item = job.items.get(device_uid=uid)
        assert (item.state, item.message, item.status_code) == (
            JobItem.State.REFUSED,
            "Device is offline.",
            409,
        )
    assert states(job)[JobItem.State.SENT] == len(uids) - 3


def test_a_job_told_to_wait_sends_to_devices_that_come_back_and_skips_the_others(
    fleet_worker, emulator, operator, token_a
):
    uids = all_online(emulator, TOKEN_A)
    back, away = uids[0], uids[1]
    long_ago = "2026-01-01T00:00:00.000000Z"
    for uid in (back, away):
        emulator.set_device(TOKEN_A, uid, status="offline", last_seen_at=long_ago)
    fleet_worker.stop()
    fleet_worker.start(PORTAL_FLEET_RECHECK_SECONDS="0.5")
    job = start_job(operator, token_a, uids, offline=Job.Offline.WAIT, wait_minutes=1)
    Job.objects.filter(pk=job.pk).update(wait_until=timezone.now() + timedelta(seconds=5))
    wait_for(
        lambda: job.items.filter(state=JobItem.State.SENT).count() == len(uids) - 2,
        what="the online devices to be sent",
    )
    assert sends(emulator).get(back) is None
    emulator.set_device(TOKEN_A, back, status="online")
    wait_for(lambda: ended(job), what="the job to end", seconds=20)
    assert job.items.get(device_uid=back).state == JobItem.State.SENT
    skipped = job.items.get(device_uid=away)
    assert skipped.state == JobItem.State.SKIPPED
    assert skipped.message.startswith("Still offline after waiting")
    assert sends(emulator).get(away) is None
    lists = [e for e in emulator.request_log if e["path"] == "/v1/user/devices"]
    assert 2 <= len(lists) <= 20  # re-checked, at a bounded pace


def test_a_429_storm_pauses_the_fleet_until_retry_after_and_every_device_ends_sent(
    fleet_worker, emulator, operator, token_a
):
    uids = all_online(emulator, TOKEN_A)
    emulator.set_throttle(4, window_seconds=2)
    fleet_worker.stop()
    fleet_worker.start(PORTAL_FLEET_MAX_IN_FLIGHT="2")  # and no budget: it runs into the throttle
    job = start_job(operator, token_a, uids)
    wait_for(lambda: ended(job), what="the job to end", seconds=60)
    assert states(job) == {JobItem.State.SENT: len(uids)}
    assert set(sends(emulator, status=200).values()) == {1}
    log = [e for e in emulator.request_log if e["path"].endswith("/reboot")]
    refusals = [e["at"] for e in log if e["status"] == 429]
    assert refusals, "the throttle never refused: the test proves nothing"
    for at in refusals:
        # Retry-After is at least 1 s: nothing new arrives meanwhile, only what was in flight.
        assert not [e for e in log if at + 0.3 < e["at"] < at + 0.9]
    # Each refusal is one attempt with its one audit row; each item ends with one final state.
    rows = AuditEvent.objects.filter(action="device.reboot")
    assert rows.count() == len(log)
    assert rows.filter(status_code=429).count() == len(refusals)
    assert sum(job.items.values_list("attempts", flat=True)) == len(log)


def test_a_stopping_worker_gives_back_the_items_still_waiting_for_their_turn(
    fleet_worker, emulator, operator, token_a
):
    uids = all_online(emulator, TOKEN_A)[:4]
    fleet_worker.stop()
    # One fleet call every 30 s: after the first, the others wait for their turn, claimed.
    fleet_worker.start(PORTAL_CALLS_PER_MINUTE="2", PORTAL_CALLS_RESERVED_FOR_PAGES="0")
    job = start_job(operator, token_a, uids)
    wait_for(lambda: job.items.filter(state=JobItem.State.SENT).count() == 1, what="one send")
    wait_for(lambda: job.items.filter(state=JobItem.State.SENDING).exists(), what="a claim")
    began = time.monotonic()
    fleet_worker.stop()
    assert time.monotonic() - began < 10  # not held up by a turn 30 s away
    assert states(job) == {JobItem.State.SENT: 1, JobItem.State.WAITING: 3}
    assert sum(sends(emulator).values()) == 1
    assert set(
        job.items.filter(state=JobItem.State.WAITING).values_list("attempts", flat=True)
    ) == {0}
