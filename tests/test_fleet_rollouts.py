"""Staged rollouts with the worker as a real process (`manage.py db_worker`) and the emulator's
test range: OTA outcomes per device, a time scale so a wave takes a second or two.

What the rollout decides is checked from both sides: its own rows (targets, waves, the
ledger of steps) and what the emulator received (each device's OTA triggers in its log).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from emulator.pytest_plugin import TOKEN_A
from fleet import rollout_engine, rollouts
from fleet.models import Build, BuildFile, Rollout, Step, Target, Wave
from portal.models import AuditEvent
from portal.outcomes import Actor
from tests import firmware_samples as samples
from tests.fleet_worker import FleetWorker, database_url, worker_env

ROOT = Path(__file__).resolve().parent.parent
ON_POSTGRES = "PORTAL_TEST_ROLLOUTS_ON_POSTGRES"
KITCHEN = "Kitchen Relay"  # an online ESP8266 of the curated fleet, copied as needed
POLL = "0.1"


@pytest.fixture
def worker(transactional_db, emulator, tmp_path):
    """The fleet worker, following devices every 0.1 s; the emulator 4x faster (an OTA in
    0.25 s, a restart in 0.25 s)."""
    emulator.set_time_scale(4)
    env = worker_env(emulator.url, database_url(connection.settings_dict))
    fleet = FleetWorker({**env, "PORTAL_ROLLOUT_POLL_SECONDS": POLL}, tmp_path)
    fleet.start()
    try:
        yield fleet
    finally:
        fleet.kill()


def devices(emulator, count: int, prefix: str = "roll") -> list[tuple[str, str]]:
    """`count` online ESP8266 devices (copies of Kitchen Relay): (uid, name)."""
    source = emulator.device_uid(TOKEN_A, KITCHEN)
    made = []
    for n in range(count):
        uid = f"{prefix}-{n:03d}"
        emulator.copy_device(TOKEN_A, source, uid)
        emulator.set_device(TOKEN_A, uid, name=f"Device {n}")
        made.append((uid, f"Device {n}"))
    return made


def a_build(token, salt: str = "rollout") -> Build:
    content = samples.esp8266_image(60_000, salt)
    md5 = hashlib.md5(content, usedforsecurity=False).hexdigest()
    build = Build.objects.create(
        token=token, name="Relay firmware", version="2.0.0", md5=md5, size=len(content),
        kind="esp8266", chip="ESP8266", filename="relay.bin",
    )  # fmt: skip
    BuildFile.objects.create(build=build, content=content)
    return build


def content_of(build: Build) -> bytes:
    return bytes(BuildFile.objects.get(build=build).content)


def until(check, timeout: float = 30.0, every: float = 0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not reached within {timeout} s")


def triggers(emulator, uid: str) -> int:
    """OTA triggers the device's upstream received (accepted or not)."""
    return sum(
        1 for e in emulator.request_log
        if e["method"] == "POST" and e["path"] == f"/v1/user/devices/{uid}/ota"
    )  # fmt: skip


def touched(emulator, uid: str) -> list[dict]:
    return [e for e in emulator.request_log if f"/devices/{uid}" in e["path"]]


def planned(maintainer, token, build, chosen, *, here: bool = False, **options) -> Rollout:
    """A planned rollout, its devices read (by the worker, or `here` in this process)."""
    outcome = rollouts.plan(Actor(user=maintainer), token, build, chosen, **options)
    assert outcome.ok, outcome.message
    rollout = outcome.answer
    assert rollout.state == Rollout.State.PLANNING
    if here:
        client = rollouts.client_of(token)
        for target in rollout.targets.filter(state=Target.State.CHECKING):
            rollouts.check(client, rollout, target)
        assert rollouts.finish_planning(rollout)
    return ended(rollout, states=(Rollout.State.DRAFT,))


def started(maintainer, rollout: Rollout) -> Rollout:
    outcome = rollouts.start(Actor(user=maintainer), rollout)
    assert outcome.ok, outcome.message
    return rollout


def ended(rollout: Rollout, timeout: float = 40.0, states=(Rollout.State.DONE,)) -> Rollout:
    def check():
        rollout.refresh_from_db()
        return rollout.state in states

    try:
        until(check, timeout)
    except AssertionError as error:  # say where it stood, for whoever reads the failure
        raise AssertionError(f"{error}: the rollout {rollout.state}, {states(rollout)}") from None
    return rollout


def states(rollout: Rollout) -> dict[str, str]:
    return dict(rollout.targets.values_list("device_uid", "state"))


# --- a rollout that works -------------------------------------------------------------------


def test_a_rollout_updates_each_device_wave_by_wave_with_its_steps_in_order_and_audited(
    worker, emulator, token_a, maintainer
):
    chosen = devices(emulator, 4)
    build = a_build(token_a)
    rollout = planned(maintainer, token_a, build, chosen, canary=1, percents=[50, 100],
                      soak_seconds=1)  # fmt: skip
    assert [(w.percent, w.size) for w in rollout.waves.all()] == [(None, 1), (50, 1), (100, 2)]
    started(maintainer, rollout)
    ended(rollout)
    assert set(states(rollout).values()) == {Target.State.HEALTHY}
    assert list(rollout.waves.values_list("state", flat=True)) == [Wave.State.PASSED] * 3
    # Waves in order: no device of a wave was triggered before the wave before it had passed.
    by_wave = {}
    for t in rollout.targets.select_related("wave"):
        by_wave.setdefault(t.wave.number, []).append(t)
    for number in (1, 2):
        first = min(t.triggered_at for t in by_wave[number])
        assert all(t.finished_at <= first for t in by_wave[number - 1])
    for uid, _ in chosen:
        assert triggers(emulator, uid) == 1
        target = rollout.targets.get(device_uid=uid)
        kinds = [s.kind for s in target.steps.all() if s.kind != Step.Kind.POLL]
        assert kinds[:3] == [Step.Kind.UPLOAD, Step.Kind.SET_TARGET, Step.Kind.TRIGGER]
        assert target.firmware_md5 == build.md5 and target.firmware_id
        for step in target.steps.filter(kind__in=Step.WRITES):
            assert step.outcome == Step.Outcome.OK and step.audit is not None
            assert step.audit.sent["rollout"] == rollout.pk
    for action in ("firmware.upload", "firmware.set_target", "firmware.ota"):
        assert AuditEvent.objects.filter(action=action, sent__rollout=rollout.pk).count() == 4
    assert AuditEvent.objects.filter(action="rollout.plan").count() == 1
    assert AuditEvent.objects.filter(action="rollout.start").count() == 1
    # The device runs it: the truth read back.
    for uid, _ in chosen:
        assert emulator.state.device_detail(TOKEN_A, uid)["current_firmware"]["md5"] == build.md5


def test_a_device_that_comes_back_on_its_old_build_is_failed(worker, emulator, token_a, maintainer):
    chosen = devices(emulator, 2)
    emulator.set_ota_outcome(chosen[0][0], "old_build")
    rollout = planned(maintainer, token_a, a_build(token_a), chosen, canary=0,
                      percents=[100], soak_seconds=0, pass_percent=50)  # fmt: skip
    started(maintainer, rollout)
    ended(rollout)
    target = rollout.targets.get(device_uid=chosen[0][0])
    assert target.state == Target.State.FAILED
    assert target.why == "Came back on the old build."
    assert rollout.targets.get(device_uid=chosen[1][0]).state == Target.State.HEALTHY
    assert triggers(emulator, chosen[0][0]) == 1  # never sent again


def test_a_device_back_on_its_old_build_before_any_read_saw_its_restart_is_failed_by_its_last_ota(
    worker, emulator, token_a, maintainer
):
    chosen = devices(emulator, 1)
    uid = chosen[0][0]
    before = emulator.state.device_detail(TOKEN_A, uid)
    # An earlier OTA ended: the read before the trigger already says "done".
    assert before["meta"]["ota_status"] == "done" and before["last_ota_at"]
    # The OTA and the restart take 1 ms each: over before the first read after the trigger,
    # so no read sees the device restarting, nor its update under way.
    emulator.set_time_scale(1000)
    emulator.set_ota_outcome(uid, "old_build")
    rollout = planned(maintainer, token_a, a_build(token_a), chosen, canary=0, percents=[100],
                      soak_seconds=0, pass_percent=0, follow_timeout_seconds=5)  # fmt: skip
    started(maintainer, rollout)
    ended(rollout)
    target = rollout.targets.get()
    assert (target.state, target.why) == (Target.State.FAILED, "Came back on the old build.")
    assert not target.seen_offline and not target.seen_updating  # no read caught the restart
    assert not target.steps.filter(message="Offline.").exists()
    assert target.trigger_last_ota_at == rollout_engine.ota_mark(before)
    after = emulator.state.device_detail(TOKEN_A, uid)
    assert after["last_ota_at"] != before["last_ota_at"]
    assert after["current_firmware"]["md5"] == before["current_firmware"]["md5"]
    assert triggers(emulator, uid) == 1


def test_the_failure_threshold_pauses_within_the_wave_and_the_next_wave_is_never_touched(
    worker, emulator, token_a, maintainer
):
    chosen = devices(emulator, 6)
    first, second = chosen[:3], chosen[3:]
    emulator.set_ota_outcomes(devices={first[0][0]: "old_build", first[1][0]: "old_build"})
    rollout = planned(maintainer, token_a, a_build(token_a), chosen, canary=0,
                      percents=[50, 100], soak_seconds=0, max_failures=2)  # fmt: skip
    emulator.clear_log()  # the planning's detail reads
    started(maintainer, rollout)
    ended(rollout, states=(Rollout.State.PAUSED,))
    assert "2 devices failed: the threshold is 2." in rollout.paused_reason
    wave1, wave2 = rollout.waves.order_by("number")
    assert wave1.state == Wave.State.PAUSED and wave2.state == Wave.State.PENDING
    # The wave's devices in flight are followed to their end; the next wave is untouched.
    until(lambda: not rollout.targets.filter(wave=wave1).exclude(state__in=Target.FINAL).exists())
    time.sleep(0.5)
    for uid, _ in second:
        assert touched(emulator, uid) == []
        target = rollout.targets.get(device_uid=uid)
        assert target.state == Target.State.WAITING and not target.steps.exists()
    pause = AuditEvent.objects.get(action="rollout.pause")
    assert pause.sent["automatic"] is True and pause.user is None
    # Resumed: the next wave runs, the failure count starts again.
    emulator.clear_ota_outcomes()
    assert rollouts.resume(Actor(user=maintainer), rollout).ok
    ended(rollout)
    assert all(states(rollout)[uid] == Target.State.HEALTHY for uid, _ in second)


def test_a_stuck_device_times_out_and_one_that_drops_offline_needs_a_visit_with_its_last_address(
    worker, emulator, token_a, maintainer
):
    chosen = devices(emulator, 3)
    stuck, gone, flaky = (uid for uid, _ in chosen)
    emulator.set_device(TOKEN_A, gone, public_ip="203.0.113.7", last_rssi=-71,
                        description="Shed, top shelf")  # fmt: skip
    emulator.set_ota_outcomes(devices={stuck: "stuck", gone: "offline", flaky: "flaky"},
                              flaky_seconds=2)  # fmt: skip
    rollout = planned(maintainer, token_a, a_build(token_a), chosen, canary=0, soak_seconds=2,
                      follow_timeout_seconds=2, pass_percent=0)  # fmt: skip
    started(maintainer, rollout)
    ended(rollout)
    found = states(rollout)
    assert found[stuck] == Target.State.TIMED_OUT
    # The flaky one ran the build, then dropped off during the soak and stayed away.
    assert found[gone] == Target.State.NEEDS_VISIT and found[flaky] == Target.State.NEEDS_VISIT
    visit = rollouts.needs_visit(rollout)[0]
    assert visit.device_uid == gone
    assert (visit.last_ip, visit.last_rssi, visit.description) == ("203.0.113.7", -71,
                                                                   "Shed, top shelf")  # fmt: skip
    assert (
        rollout.targets.get(device_uid=flaky)
        .steps.filter(kind=Step.Kind.POLL, message__startswith="Runs the target")
        .exists()
    )
    assert all(triggers(emulator, uid) == 1 for uid, _ in chosen)
    row = next(r for r in rollouts.report_rows(rollout) if r[0] == gone)
    assert "203.0.113.7" in row and "Shed, top shelf" in row


def test_a_device_offline_at_its_turn_is_waited_for_until_the_deadline(
    worker, emulator, token_a, maintainer
):
    chosen = devices(emulator, 2)
    back, away = chosen[0][0], chosen[1][0]
    for uid in (back, away):
        emulator.set_device(TOKEN_A, uid, status="offline")
    rollout = planned(maintainer, token_a, a_build(token_a), chosen, canary=0, soak_seconds=0,
                      offline_wait_seconds=3, pass_percent=0)  # fmt: skip
    started(maintainer, rollout)
    until(lambda: rollout.targets.filter(steps__message="Offline: waiting for its return.")
          .distinct().count() == 2)  # fmt: skip
    assert triggers(emulator, back) == 0  # nothing sent to an offline device
    emulator.set_device(TOKEN_A, back, status="online")
    ended(rollout)
    assert states(rollout) == {back: Target.State.HEALTHY, away: Target.State.MISSED}
    assert triggers(emulator, away) == 0


def test_a_rollout_with_a_start_time_waits_for_it(worker, emulator, token_a, maintainer):
    from datetime import timedelta

    from django.utils import timezone

    rollout = planned(maintainer, token_a, a_build(token_a), devices(emulator, 1), canary=0,
                      soak_seconds=0, start_at=timezone.now() + timedelta(hours=1))  # fmt: skip
    # Two seconds from now (the planning's own time is not the point here).
    at = timezone.now() + timedelta(seconds=2)
    Rollout.objects.filter(pk=rollout.pk).update(start_at=at)
    rollout.refresh_from_db()
    started(maintainer, rollout)
    rollout.refresh_from_db()
    assert rollout.state == Rollout.State.SCHEDULED
    time.sleep(1)
    assert not Step.objects.filter(target__rollout=rollout).exists()
    ended(rollout)
    assert rollout.started_at >= at
    assert rollout.targets.get().triggered_at >= at


# --- planning -------------------------------------------------------------------------------


def test_planning_excludes_mismatched_chips_and_skips_devices_already_running_the_build(
    db, emulator, token_a, maintainer
):
    chosen = devices(emulator, 2)
    esp32 = emulator.device_uid(TOKEN_A, "Chicken Coop Door")
    build = a_build(token_a)
    # One device already runs the build (uploaded, targeted and updated beforehand).
    running = chosen[1][0]
    emulator.state.upload_firmware(TOKEN_A, running, {"name": "x"}, content_of(build))
    emulator.state.set_target(TOKEN_A, running, build.md5)
    with emulator.state.lock:
        device = emulator.state._device(TOKEN_A, running)
        device.current_firmware_id = device.target_firmware_id
    rollout = planned(maintainer, token_a, build, [*chosen, (esp32, "Chicken Coop Door")],
                      here=True)  # fmt: skip
    excluded = rollout.targets.get(device_uid=esp32)
    assert excluded.state == Target.State.EXCLUDED and excluded.wave is None
    assert excluded.why.startswith("The build is for ESP8266, this device is an ESP32")
    skipped = rollout.targets.get(device_uid=running)
    assert skipped.state == Target.State.SKIPPED and skipped.why == "Already running this build."
    assert rollout.targets.get(device_uid=chosen[0][0]).state == Target.State.WAITING
    assert sum(w.size for w in rollout.waves.all()) == 1
    counted = rollouts.counts(rollout)
    assert (counted["waiting"], counted["excluded"], counted["skipped"]) == (1, 1, 1)
    assert AuditEvent.objects.get(action="rollout.plan").sent["devices"] == 3
    # Each device's detail read once, and nothing written.
    assert all(e["method"] == "GET" for e in emulator.request_log)


def test_wave_sizes_are_a_canary_then_cumulative_shares():
    assert rollouts.wave_sizes(100, 0, [5, 25, 100]) == [(5, 5), (25, 20), (100, 75)]
    assert rollouts.wave_sizes(10, 2, [10, 50, 100]) == [(None, 2), (50, 3), (100, 5)]
    assert rollouts.wave_sizes(3, 5, [100]) == [(None, 3)]
    assert rollouts.check_percents([10, 50]) == "The last wave must reach 100 %."
    assert rollouts.check_percents([50, 10, 100]).startswith("Each wave must bring")


# --- what the upstream answers --------------------------------------------------------------


def test_a_duplicate_upload_answer_is_success_and_the_copy_is_found_in_the_firmware_list(
    worker, emulator, token_a, maintainer
):
    chosen = devices(emulator, 1)
    uid = chosen[0][0]
    build = a_build(token_a)
    copy = emulator.state.upload_firmware(TOKEN_A, uid, {"name": "earlier"}, content_of(build))
    rollout = planned(maintainer, token_a, build, chosen, canary=0, soak_seconds=0)
    started(maintainer, rollout)
    ended(rollout)
    target = rollout.targets.get()
    assert target.state == Target.State.HEALTHY
    assert target.firmware_id == str(copy["id"]) and target.firmware_md5 == build.md5
    upload = target.steps.get(kind=Step.Kind.UPLOAD)
    assert (upload.outcome, upload.message) == ("ok", "This firmware file is already uploaded.")
    found = target.steps.get(kind=Step.Kind.FIND_EXISTING)
    assert found.outcome == "ok" and str(copy["id"]) in found.message


def test_429s_during_a_wave_pause_the_work_and_each_step_is_made_once_after_them(
    worker, emulator, token_a, maintainer
):
    chosen = devices(emulator, 3)
    too_many = b'{"message": "Too Many Attempts."}'
    emulator.set_fault("raw", count=3, path=r"/firmwares/set-target$", status=429,
                       headers={"Retry-After": "1"}, body=too_many)  # fmt: skip
    rollout = planned(maintainer, token_a, a_build(token_a), chosen, canary=0, soak_seconds=0)
    started(maintainer, rollout)
    ended(rollout)
    assert set(states(rollout).values()) == {Target.State.HEALTHY}
    refused = Step.objects.filter(target__rollout=rollout, kind=Step.Kind.SET_TARGET,
                                  outcome=Step.Outcome.WARNING, status_code=429)  # fmt: skip
    assert refused.count() == 3
    for uid, _ in chosen:
        path = f"/v1/user/devices/{uid}/firmwares/set-target"
        sent = [e for e in emulator.request_log if e["path"] == path]
        assert [e["status"] for e in sent][-1] == 200 and triggers(emulator, uid) == 1
        # Not asked again before the Retry-After had passed.
        for before, after in pairwise(sent):
            if before["status"] == 429:
                assert after["at"] - before["at"] >= 0.95


# --- nothing lost, nothing done twice -------------------------------------------------------


def test_a_worker_killed_mid_wave_is_resumed_by_the_next_without_a_second_ota_trigger(
    worker, emulator, token_a, maintainer
):
    chosen = devices(emulator, 4)
    # The last device's trigger hangs: the worker is killed while it waits for the answer,
    # the others already triggered and followed.
    hung = chosen[-1][0]
    emulator.set_fault("hang", path=f"{hung}/ota$", hang_seconds=6, count=1)
    rollout = planned(maintainer, token_a, a_build(token_a), chosen, canary=0, soak_seconds=2)
    started(maintainer, rollout)
    until(lambda: Step.objects.filter(target__device_uid=hung, kind=Step.Kind.TRIGGER).exists())
    worker.kill()
    pending = Step.objects.get(target__device_uid=hung, kind=Step.Kind.TRIGGER)
    assert pending.outcome == Step.Outcome.PENDING  # killed between the claim and the answer
    in_flight = rollout.targets.filter(state__in=[*Target.IN_FLIGHT, Target.State.TRIGGERING])
    assert in_flight.exclude(device_uid=hung).filter(triggered_at__isnull=False).exists()
    assert rollout.waves.get().state == Wave.State.RUNNING
    worker.start(PORTAL_ROLLOUT_POLL_SECONDS=POLL)
    ended(rollout, timeout=60)
    assert set(states(rollout).values()) == {Target.State.HEALTHY}
    pending.refresh_from_db()
    assert pending.outcome == Step.Outcome.UNKNOWN
    for uid, _ in chosen:
        assert triggers(emulator, uid) == 1, uid
        assert rollout.targets.get(device_uid=uid).steps.filter(kind=Step.Kind.TRIGGER).count() == 1


def test_a_worker_restarted_during_the_soak_goes_on_where_it_was(
    worker, emulator, token_a, maintainer
):
    chosen = devices(emulator, 3)
    rollout = planned(maintainer, token_a, a_build(token_a), chosen, canary=0, soak_seconds=3)
    started(maintainer, rollout)
    until(lambda: rollout.targets.filter(state=Target.State.SOAKING).count() == 3)
    began = time.monotonic()
    worker.stop()  # SIGTERM: the rollout is left between two steps and queued again
    assert time.monotonic() - began < 5
    worker.start(PORTAL_ROLLOUT_POLL_SECONDS=POLL)
    ended(rollout)
    assert set(states(rollout).values()) == {Target.State.HEALTHY}
    for uid, _ in chosen:
        assert triggers(emulator, uid) == 1
        assert rollout.targets.get(device_uid=uid).steps.filter(kind=Step.Kind.UPLOAD).count() == 1


def test_one_worker_shares_itself_between_two_rollouts_running_at_once(
    worker, emulator, token_a, maintainer
):
    first = planned(maintainer, token_a, a_build(token_a, "one"), devices(emulator, 2, "one"),
                    canary=0, soak_seconds=5)  # fmt: skip
    second = planned(maintainer, token_a, a_build(token_a, "two"), devices(emulator, 2, "two"),
                     canary=0, soak_seconds=5)  # fmt: skip
    started(maintainer, first)
    until(lambda: first.targets.filter(state=Target.State.SOAKING).count() == 2)
    started(maintainer, second)
    ended(second)
    first.refresh_from_db()
    # The second was not kept waiting for the first's soak to end.
    last_of_first = max(first.targets.values_list("finished_at", flat=True), key=str)
    first_of_second = min(second.targets.values_list("triggered_at", flat=True))
    assert last_of_first is None or first_of_second < last_of_first
    ended(first)


# --- steering -------------------------------------------------------------------------------


def test_a_manual_rollout_waits_for_a_promote_and_an_abort_leaves_the_rest_untouched(
    worker, emulator, token_a, maintainer, admin_user
):
    chosen = devices(emulator, 4)
    rollout = planned(maintainer, token_a, a_build(token_a), chosen, canary=1,
                      percents=[50, 100], soak_seconds=0,
                      promote=Rollout.Promote.MANUAL)  # fmt: skip
    started(maintainer, rollout)
    canary, wave1, wave2 = rollout.waves.order_by("number")
    until(lambda: Wave.objects.get(pk=canary.pk).state == Wave.State.PASSED)
    time.sleep(0.5)
    wave1.refresh_from_db()
    assert wave1.state == Wave.State.PENDING  # waits for a maintainer
    assert rollout.targets.filter(wave=wave1, state=Target.State.WAITING).count() == 1
    outcome = rollouts.promote(Actor(user=admin_user), rollout)
    assert outcome.ok, outcome.message
    until(lambda: Wave.objects.get(pk=wave1.pk).state == Wave.State.PASSED)
    emulator.clear_log()
    assert rollouts.abort(Actor(user=maintainer), rollout).ok
    ended(rollout, states=(Rollout.State.ABORTED,))
    time.sleep(0.5)
    for target in rollout.targets.filter(wave=wave2):
        assert target.state == Target.State.CANCELLED and touched(emulator, target.device_uid) == []
    assert AuditEvent.objects.get(action="rollout.promote").sent == {"rollout": rollout.pk,
                                                                      "wave": 1}  # fmt: skip
    assert not rollouts.promote(Actor(user=admin_user), rollout).ok  # ended: refused, one row
    assert AuditEvent.objects.filter(action="rollout.promote").count() == 2


def test_a_pause_lets_devices_in_flight_end_and_starts_nothing_new_until_resumed(
    worker, emulator, token_a, maintainer
):
    chosen = devices(emulator, 4)
    rollout = planned(maintainer, token_a, a_build(token_a), chosen, canary=0, soak_seconds=2)
    started(maintainer, rollout)
    until(lambda: rollout.targets.filter(state=Target.State.SOAKING).exists())
    assert rollouts.pause(Actor(user=maintainer), rollout, "Checking the canary by hand").ok
    triggered = set(rollout.targets.filter(triggered_at__isnull=False)
                    .values_list("device_uid", flat=True))  # fmt: skip
    until(lambda: not rollout.targets.filter(state__in=Target.IN_FLIGHT).exists())
    time.sleep(0.5)
    rollout.refresh_from_db()
    assert rollout.state == Rollout.State.PAUSED
    # Whatever had been triggered before the pause ended; nothing was triggered after it.
    after = set(rollout.targets.filter(triggered_at__isnull=False)
                .values_list("device_uid", flat=True))  # fmt: skip
    assert after == triggered
    assert all(rollout.targets.get(device_uid=u).state == Target.State.HEALTHY for u in after)
    assert rollouts.resume(Actor(user=maintainer), rollout).ok
    ended(rollout)
    assert set(states(rollout).values()) == {Target.State.HEALTHY}


def test_rolling_back_the_failed_devices_is_a_rollout_of_their_previous_builds(
    worker, emulator, token_a, maintainer
):
    chosen = devices(emulator, 2)
    previous = emulator.state.device_detail(TOKEN_A, chosen[0][0])["current_firmware"]["md5"]
    rollout = planned(maintainer, token_a, a_build(token_a), chosen, canary=0, soak_seconds=0)
    started(maintainer, rollout)
    ended(rollout)
    # Both updated; the team finds the first one misbehaving on the new build.
    Target.objects.filter(rollout=rollout, device_uid=chosen[0][0]).update(
        state=Target.State.FAILED, why="Misbehaves."
    )
    outcome = rollouts.rollback_failed(Actor(user=maintainer), rollout)
    assert outcome.ok, outcome.message
    back = ended(outcome.answer, states=(Rollout.State.DRAFT,))
    assert back.rollback_of == rollout and back.build is None
    assert AuditEvent.objects.get(action="rollout.rollback").sent["rollback_of"] == rollout.pk
    target = back.targets.get()
    assert target.device_uid == chosen[0][0] and target.target_md5 == previous
    assert target.state == Target.State.WAITING
    started(maintainer, back)
    ended(back)
    target.refresh_from_db()
    assert target.state == Target.State.HEALTHY
    assert not target.steps.filter(kind=Step.Kind.UPLOAD).exists()  # it was still there
    detail = emulator.state.device_detail(TOKEN_A, chosen[0][0])
    assert detail["current_firmware"]["md5"] == previous


def test_rolling_back_devices_back_on_their_old_build_sets_their_target_back_with_no_ota(
    worker, emulator, token_a, maintainer
):
    chosen = devices(emulator, 3)
    back_on_old, reflashed, set_by_hand = (uid for uid, _ in chosen)
    old = emulator.state.device_detail(TOKEN_A, back_on_old)["current_firmware"]["md5"]
    emulator.set_ota_outcomes(devices={back_on_old: "old_build", set_by_hand: "old_build"})
    build = a_build(token_a)
    rollout = planned(maintainer, token_a, build, chosen, canary=0, soak_seconds=0,
                      pass_percent=0)  # fmt: skip
    started(maintainer, rollout)
    ended(rollout)
    assert states(rollout) == {back_on_old: Target.State.FAILED, reflashed: Target.State.HEALTHY,
                               set_by_hand: Target.State.FAILED}  # fmt: skip
    # Back on the old build, its target upstream is still the new one: its next OTA check
    # would fetch it again.
    assert emulator.state.device_detail(TOKEN_A, back_on_old)["target_firmware"]["md5"] == build.md5
    emulator.state.set_target(TOKEN_A, set_by_hand, old)  # someone already set this one back
    Target.objects.filter(rollout=rollout, device_uid=reflashed).update(
        state=Target.State.FAILED, why="Misbehaves."
    )
    outcome = rollouts.rollback_failed(Actor(user=maintainer), rollout)
    assert outcome.ok, outcome.message
    back = ended(outcome.answer, states=(Rollout.State.DRAFT,))
    assert states(back) == {back_on_old: Target.State.WAITING, reflashed: Target.State.WAITING,
                            set_by_hand: Target.State.SKIPPED}  # fmt: skip
    assert back.targets.get(device_uid=back_on_old).why == rollouts.TARGET_ONLY
    emulator.clear_log()
    started(maintainer, back)
    ended(back)
    assert states(back) == {back_on_old: Target.State.HEALTHY, reflashed: Target.State.HEALTHY,
                            set_by_hand: Target.State.SKIPPED}  # fmt: skip
    target = back.targets.get(device_uid=back_on_old)
    assert [(s.kind, s.outcome) for s in target.steps.all()] == [
        (Step.Kind.SET_TARGET, Step.Outcome.OK), (Step.Kind.READ, Step.Outcome.OK),
    ]  # fmt: skip
    assert target.steps.get(kind=Step.Kind.READ).message == (
        "Already runs the build; its target was set back to it."
    )
    written = target.steps.get(kind=Step.Kind.SET_TARGET).audit
    assert written.action == "firmware.set_target" and written.sent["rollout"] == back.pk
    assert written.sent["md5"] == old and written.device_uid == back_on_old
    assert triggers(emulator, back_on_old) == 0 and triggers(emulator, reflashed) == 1
    assert touched(emulator, set_by_hand) == []
    for uid in (back_on_old, set_by_hand):
        detail = emulator.state.device_detail(TOKEN_A, uid)
        assert detail["current_firmware"]["md5"] == old == detail["target_firmware"]["md5"]


def test_a_rollout_above_the_approval_size_waits_for_a_second_maintainer(
    db, emulator, token_a, maintainer, admin_user, settings
):
    settings.PORTAL_ROLLOUT_APPROVAL_ABOVE = 1
    rollout = planned(maintainer, token_a, a_build(token_a), devices(emulator, 2), here=True)
    assert rollout.needs_approval
    assert rollouts.start(Actor(user=maintainer), rollout).ok
    rollout.refresh_from_db()
    assert rollout.state == Rollout.State.AWAITING_APPROVAL
    refused = rollouts.approve(Actor(user=maintainer), rollout)
    assert not refused.ok and "another maintainer" in refused.message
    assert rollouts.approve(Actor(user=admin_user), rollout).ok
    rollout.refresh_from_db()
    assert rollout.state == Rollout.State.RUNNING and rollout.approved_by == admin_user
    codes = list(AuditEvent.objects.filter(action__startswith="rollout.")
                 .values_list("action", "outcome").order_by("pk"))  # fmt: skip
    assert codes == [("rollout.plan", "ok"), ("rollout.start", "ok"),
                     ("rollout.approve", "refused"), ("rollout.approve", "ok")]  # fmt: skip


def test_the_schedule_starts_at_its_time_and_keeps_to_the_window_in_its_time_zone():
    from datetime import UTC, datetime

    rollout = Rollout(window_days=[0, 1, 2, 3, 4], window_start_hour=22, window_end_hour=4,
                      window_tz="Europe/Paris")  # fmt: skip
    monday_2330_paris = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)
    tuesday_0330_paris = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    tuesday_noon_paris = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    saturday_0100_paris = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)  # Friday's window
    sunday_0100_paris = datetime(2026, 12, 6, 0, 0, tzinfo=UTC)  # Saturday's: none
    assert rollouts.in_window(rollout, monday_2330_paris)
    assert rollouts.in_window(rollout, tuesday_0330_paris)
    assert not rollouts.in_window(rollout, tuesday_noon_paris)
    assert rollouts.in_window(rollout, saturday_0100_paris)
    assert not rollouts.in_window(rollout, sunday_0100_paris)
    rollout.start_at = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    assert not rollouts.in_window(rollout, tuesday_0330_paris)


def test_the_report_has_a_row_per_device_with_its_steps(db, emulator, token_a, maintainer):
    rollout = planned(maintainer, token_a, a_build(token_a), devices(emulator, 2), here=True)
    rows = list(rollouts.report_rows(rollout))
    assert rows[0] == rollouts.REPORT_HEADER and len(rows) == 3
    assert rows[1][0] == "roll-000" and rows[1][3] == "Waiting"
    counted = rollouts.counts(rollout)
    assert counted["waiting"] == 2 and counted["total"] == 2 and counted["failures"] == 0


def test_a_worker_killed_mid_upload_finds_the_copy_and_never_stores_it_twice(
    worker, emulator, token_a, maintainer
):
    chosen = devices(emulator, 1)
    uid = chosen[0][0]
    emulator.set_fault("hang", path=f"{uid}/firmwares$", hang_seconds=4, count=1)
    build = a_build(token_a)
    rollout = planned(maintainer, token_a, build, chosen, canary=0, soak_seconds=0)
    started(maintainer, rollout)
    until(lambda: Step.objects.filter(target__device_uid=uid, kind=Step.Kind.UPLOAD).exists())
    worker.kill()
    worker.start(PORTAL_ROLLOUT_POLL_SECONDS=POLL)
    ended(rollout, timeout=60)
    target = rollout.targets.get()
    assert target.state == Target.State.HEALTHY
    assert target.steps.filter(kind=Step.Kind.UPLOAD).first().outcome == Step.Outcome.UNKNOWN
    # The unknown upload was looked for before anything else was sent; then either found,
    # or uploaded again (whichever of the two arrived second was refused as a duplicate).
    kinds = [s.kind for s in target.steps.all()]
    assert kinds[:2] == [Step.Kind.UPLOAD, Step.Kind.FIND_EXISTING]
    copies = [fw for fw in emulator.state.list_firmwares(TOKEN_A, uid) if fw["md5"] == build.md5]
    assert len(copies) == 1 and target.firmware_id == str(copies[0]["id"])
    uploads = [e for e in emulator.request_log
               if e["method"] == "POST" and e["path"].endswith(f"{uid}/firmwares")]  # fmt: skip
    assert len(uploads) <= 2  # the hung one, and at most one refused as a duplicate


@pytest.mark.postgres_subrun  # only in the PostgreSQL run below (tests/conftest.py)
def test_two_workers_on_postgresql_share_a_rollout_and_trigger_each_device_once(
    worker, emulator, token_a, maintainer
):
    assert connection.vendor == "postgresql"
    worker.start(PORTAL_ROLLOUT_POLL_SECONDS=POLL)
    chosen = devices(emulator, 12)
    rollout = planned(maintainer, token_a, a_build(token_a), chosen, canary=2,
                      percents=[50, 100], soak_seconds=0)  # fmt: skip
    started(maintainer, rollout)
    # Both workers advance it at once (each claims devices the other has not).
    rollouts.enqueue(rollout)
    ended(rollout, timeout=60)
    assert set(states(rollout).values()) == {Target.State.HEALTHY}
    for uid, _ in chosen:
        assert triggers(emulator, uid) == 1, uid
    uploads = [e for e in emulator.request_log if e["method"] == "POST" and
               e["path"].endswith("/firmwares")]  # fmt: skip
    assert len(uploads) == 12


@pytest.mark.starts_postgres_subrun  # not inside the run it starts
def test_the_worker_tests_hold_on_postgresql(tmp_path):
    admin_url = os.environ.get("PORTAL_TEST_POSTGRES_URL", "")
    if not admin_url:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("CI must run the rollouts on PostgreSQL: set PORTAL_TEST_POSTGRES_URL.")
        pytest.skip("set PORTAL_TEST_POSTGRES_URL to run the rollouts on PostgreSQL")
    parts = urlsplit(admin_url)
    url = urlunsplit(parts._replace(path=f"/portal_rollouts_{os.getpid()}"))
    env = {**os.environ, "DATABASE_URL": url, ON_POSTGRES: "1", "PORTAL_DATA_DIR": str(tmp_path)}
    tests = ["two_workers", "killed_mid_wave"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", __file__,
         "-k", " or ".join(tests)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout
