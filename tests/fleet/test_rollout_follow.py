"""Following a device after its OTA trigger, the engine driven in this process one step at a
time (fleet/rollout_engine.py), against the emulator over HTTP. Where a detail of a shape the
emulator never makes is needed (a hostile `last_ota_at`), the emulator's `raw` fault serves
it in place of the device's own detail."""

from __future__ import annotations

import json

import pytest

from emulator.pytest_plugin import TOKEN_A
from fleet import rollout_engine, rollouts
from fleet.models import Rollout, Step, Target
from portal import storable
from portal.outcomes import Actor
from tests.test_fleet_rollouts import a_build, content_of, devices, planned, triggers

STEPS = 60  # far more than any case here needs


@pytest.fixture(autouse=True)
def in_process(settings):
    settings.PORTAL_ROLLOUT_POLL_SECONDS = 0  # every device in flight is due at once
    settings.PORTAL_CALLS_PER_MINUTE = 0
    settings.REDIS_URL = ""


def ended(target: Target) -> bool:
    return target.state in Target.FINAL


def drive(rollout: Rollout, until=ended, steps: int = STEPS, reach: bool = True) -> Target:
    """The worker's loop (rollout_engine.advance) without its waits: claim the device, make
    its next step, release it; until `until(target)` holds (which it must, if `reach`), or
    `steps` were made."""
    for _ in range(steps):
        target = rollout.targets.get()
        if until(target):
            return target
        rollout.refresh_from_db()
        claimed = rollout_engine.claim(rollout)
        if claimed is None:
            rollout_engine.open_waves(rollout)
            rollout.refresh_from_db()
            claimed = rollout_engine.claim(rollout)
        assert claimed is not None, f"nothing to claim, the device {target.state}"
        try:
            rollout_engine.work(rollout_engine.Context(rollout), claimed)
        finally:
            rollout_engine.release(claimed)
    target = rollout.targets.get()
    assert until(target) or not reach, f"not reached in {steps} steps: {target.state}"
    return target


def steps(rollout: Rollout, count: int) -> Target:
    """At most `count` steps (fewer if the device's part ends)."""
    return drive(rollout, steps=count, reach=False)


def serve(emulator, uid: str, detail: dict, count: int | None = None) -> None:
    """The device's detail reads answer `detail` (as written, any shape JSON allows)."""
    body = json.dumps({"data": detail}).encode()
    emulator.set_fault("raw", path=f"/devices/{uid}$", status=200, body=body, count=count,
                       headers={"Content-Type": "application/json"})  # fmt: skip


def following(emulator, token, maintainer, last_ota_at, ota_status="done"):
    """One device triggered and followed, its reads answering its detail with `last_ota_at`:
    (rollout, detail served, build). Its real OTA is stuck (the reads are served anyway)."""
    chosen = devices(emulator, 1)
    uid = chosen[0][0]
    build = a_build(token)
    rollout = planned(maintainer, token, build, chosen, here=True, canary=0, soak_seconds=0,
                      pass_percent=0, follow_timeout_seconds=600)  # fmt: skip
    assert rollouts.start(Actor(user=maintainer), rollout).ok
    emulator.set_ota_outcome(uid, "stuck")
    detail = emulator.state.device_detail(TOKEN_A, uid)
    detail["target_firmware"] = {"id": 1, "name": build.name, "version": "2.0.0", "md5": build.md5}
    meta = {k: v for k, v in detail["meta"].items() if k != "ota_status"}
    detail["meta"] = {**meta, "ota_status": ota_status} if ota_status else meta
    detail["last_ota_at"] = last_ota_at
    serve(emulator, uid, detail)
    target = drive(rollout, until=lambda t: t.state == Target.State.FOLLOWING)
    assert triggers(emulator, uid) == 1
    return rollout, detail, target


HOSTILE = [
    pytest.param("\x00\x00garbage\x00", "\x00\x00garbage\x01", True, id="NUL"),
    # Lone surrogates are read as U+FFFD (portal/iot/transport.py): both marks are alike.
    pytest.param("\ud800 not text", "\udfff not text", False, id="surrogates"),
    pytest.param("x" * 100_000, "y" * 100_000, True, id="100k characters"),
    pytest.param({"when": "yesterday"}, "2026-12-01T10:00:00Z", True, id="object, then a time"),
    pytest.param(1764583200, 1764583201, True, id="numbers"),
    pytest.param("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", True, id="overflow"),
    pytest.param("2026-12-01T10:00:00Z", "2026-12-01T11:00:00+01:00", False, id="one moment"),
    pytest.param("2026-12-01T10:00:00Z", ["2026"], False, id="a list: no mark"),
    pytest.param("2026-12-01T10:00:00Z", None, False, id="null: no mark"),
    pytest.param("   ", "", False, id="blank both"),
]


@pytest.mark.parametrize(("before", "after", "ends"), HOSTILE)
def test_a_hostile_last_ota_at_never_stops_the_engine_and_only_a_real_change_ends_the_attempt(
    db, emulator, token_a, maintainer, before, after, ends
):
    rollout, detail, target = following(emulator, token_a, maintainer, before)
    mark = target.trigger_last_ota_at
    assert isinstance(mark, str) and len(mark) <= 40 and storable.text(mark, 40) == mark
    # It comes back online on its old build: only its last_ota_at tells whether it restarted.
    serve(emulator, target.device_uid, {**detail, "last_ota_at": after})
    target = steps(rollout, 6)
    if ends:
        assert (target.state, target.why) == (Target.State.FAILED, "Came back on the old build.")
    else:
        assert target.state == Target.State.FOLLOWING
        assert target.steps.filter(kind=Step.Kind.POLL, message="Updating (done).").exists()


def test_a_last_ota_at_that_moves_while_the_update_status_says_it_is_under_way_is_not_its_end(
    db, emulator, token_a, maintainer
):
    rollout, detail, target = following(emulator, token_a, maintainer, "2026-11-01T10:00:00Z")
    # An upstream that stamps the OTA when it sends it: the device is still downloading.
    moved = {**detail, "last_ota_at": "2026-12-01T10:00:00Z"}
    serve(emulator, target.device_uid, {**moved, "meta": {"ota_status": "downloading"}})
    target = steps(rollout, 4)
    assert target.state == Target.State.FOLLOWING
    # Then its status says it ended, on the old build: failed.
    serve(emulator, target.device_uid, {**moved, "meta": {"ota_status": "done"}})
    target = steps(rollout, 4)
    assert (target.state, target.why) == (Target.State.FAILED, "Came back on the old build.")


def test_with_no_status_word_a_last_ota_at_moved_at_the_first_look_is_the_triggers_stamp(
    db, emulator, token_a, maintainer
):
    rollout, detail, target = following(
        emulator, token_a, maintainer, "2026-11-01T10:00:00Z", ota_status=None
    )
    # An upstream that stamps the OTA when it is sent, and says nothing of its progress.
    stamped = {**detail, "last_ota_at": "2026-12-01T10:00:00Z"}
    serve(emulator, target.device_uid, stamped)
    target = steps(rollout, 4)
    assert target.state == Target.State.FOLLOWING  # not "came back": it has barely begun
    assert target.trigger_last_ota_at == rollout_engine.ota_mark(stamped)
    # It restarts on its old build, which moves the time again: failed.
    serve(emulator, target.device_uid, {**detail, "last_ota_at": "2026-12-01T10:01:30Z"})
    target = steps(rollout, 4)
    assert (target.state, target.why) == (Target.State.FAILED, "Came back on the old build.")


def test_with_no_status_word_a_last_ota_at_moved_after_the_first_look_is_the_end(
    db, emulator, token_a, maintainer
):
    rollout, detail, target = following(
        emulator, token_a, maintainer, "2026-11-01T10:00:00Z", ota_status=None
    )
    target = steps(rollout, 1)  # the first look: nothing has moved yet
    assert target.state == Target.State.FOLLOWING
    serve(emulator, target.device_uid, {**detail, "last_ota_at": "2026-12-01T10:01:30Z"})
    target = steps(rollout, 4)
    assert (target.state, target.why) == (Target.State.FAILED, "Came back on the old build.")


def test_a_device_triggered_before_its_last_ota_at_was_kept_is_followed_by_the_other_signals(
    db, emulator, token_a, maintainer
):
    rollout, detail, target = following(emulator, token_a, maintainer, "2026-11-01T10:00:00Z")
    Target.objects.filter(pk=target.pk).update(trigger_last_ota_at=None)  # as migrated
    serve(emulator, target.device_uid, {**detail, "last_ota_at": "2026-12-01T10:00:00Z"})
    assert steps(rollout, 4).state == Target.State.FOLLOWING
    serve(emulator, target.device_uid, {**detail, "status": "reconnecting", "is_online": False})
    assert steps(rollout, 2).state == Target.State.FOLLOWING
    serve(emulator, target.device_uid, detail)
    target = steps(rollout, 4)
    assert (target.state, target.why) == (Target.State.FAILED, "Came back on the old build.")


MARKS = [
    None, True, False, 0, -1, 10**300, 1e308, float("nan"), float("inf"), -float("inf"),
    "", "  ", "\x00", "\ud800", "x" * 1_000_000, "9999-12-31T23:59:59-05:00",
    "0001-01-01T00:00:00+05:00", "2026-13-45T99:99:99Z", "2026-12-01T10:00:00",
    {"a": [1, {"b": None}]}, [[[]]], "\u202egnp.exe", "2026-12-01T10:00:00.123456789Z",
]  # fmt: skip


def test_any_last_ota_at_becomes_a_short_storable_mark_and_one_moment_is_one_mark():
    for value in MARKS:
        mark = rollout_engine.ota_mark({"last_ota_at": value})
        assert isinstance(mark, str) and len(mark) <= 40, value
        assert storable.text(mark, 40) == mark, value  # nothing left to escape or cut
    assert rollout_engine.ota_mark({}) == ""
    for nothing in (None, True, [1], {"at": 1}, float("nan"), "", " \t "):
        assert rollout_engine.ota_mark({"last_ota_at": nothing}) == ""
    written = ("2026-12-01T10:00:00Z", "2026-12-01T11:00:00+01:00", " 2026-12-01T10:00:00+00:00")
    same = {rollout_engine.ota_mark({"last_ota_at": value}) for value in written}
    assert same == {"2026-12-01T10:00:00+00:00"}
    assert rollout_engine.ota_mark({"last_ota_at": 1e308}) == "1e+308"


def test_a_rollback_whose_target_was_not_set_back_sets_it_again_before_calling_it_done(
    db, emulator, token_a, maintainer
):
    chosen = devices(emulator, 1)
    uid = chosen[0][0]
    old = emulator.state.device_detail(TOKEN_A, uid)["current_firmware"]
    build = a_build(token_a)
    # It came back on its old build: its target upstream is still the new one.
    emulator.state.upload_firmware(TOKEN_A, uid, {"name": "x"}, content_of(build))
    emulator.state.set_target(TOKEN_A, uid, build.md5)
    failed = planned(maintainer, token_a, build, chosen, here=True, canary=0)
    back = rollouts.plan(Actor(user=maintainer), token_a, None, chosen, canary=0, soak_seconds=0,
                         pass_percent=0, rollback_of=failed,
                         previous={uid: (old["md5"], str(old["id"]))}).answer  # fmt: skip
    client = rollouts.client_of(token_a)
    rollouts.check(client, back, back.targets.get())
    assert rollouts.finish_planning(back)
    assert back.targets.get().why == rollouts.TARGET_ONLY
    assert rollouts.start(Actor(user=maintainer), back).ok
    # The read after the first set-target still shows the new build as its target.
    stale = emulator.state.device_detail(TOKEN_A, uid)
    serve(emulator, uid, stale, count=1)
    target = drive(back)
    assert target.state == Target.State.HEALTHY
    assert [(s.kind, s.message) for s in target.steps.all()] == [
        (Step.Kind.SET_TARGET, "Firmware assigned to device."),
        (Step.Kind.READ, "Its target is not the build yet."),
        (Step.Kind.SET_TARGET, "Firmware assigned to device."),
        (Step.Kind.READ, "Already runs the build; its target was set back to it."),
    ]
    assert triggers(emulator, uid) == 0
    assert emulator.state.device_detail(TOKEN_A, uid)["target_firmware"]["md5"] == old["md5"]


def test_a_target_accepted_again_and_again_but_never_shown_fails_the_device_after_three(
    db, emulator, token_a, maintainer
):
    chosen = devices(emulator, 1)
    uid = chosen[0][0]
    build = a_build(token_a)
    rollout = planned(maintainer, token_a, build, chosen, here=True, canary=0, soak_seconds=0,
                      pass_percent=0)  # fmt: skip
    assert rollouts.start(Actor(user=maintainer), rollout).ok
    # The upstream takes every set-target, and its detail keeps showing the old target.
    serve(emulator, uid, emulator.state.device_detail(TOKEN_A, uid))
    target = drive(rollout)
    assert (target.state, target.why) == (
        Target.State.FAILED,
        rollout_engine.NOT_TAKEN.format(rollout_engine.UPLOAD_TRIES),
    )
    kinds = [s.kind for s in target.steps.all() if s.kind == Step.Kind.SET_TARGET]
    assert len(kinds) == rollout_engine.UPLOAD_TRIES
    assert triggers(emulator, uid) == 0


def test_a_target_refused_again_and_again_fails_the_device_with_the_upstreams_message(
    db, emulator, token_a, maintainer
):
    chosen = devices(emulator, 1)
    rollout = planned(maintainer, token_a, a_build(token_a), chosen, here=True, canary=0,
                      soak_seconds=0, pass_percent=0)  # fmt: skip
    assert rollouts.start(Actor(user=maintainer), rollout).ok
    body = json.dumps({"message": "Device is busy."}).encode()
    emulator.set_fault("raw", path="/firmwares/set-target$", status=409, body=body,
                       headers={"Content-Type": "application/json"})  # fmt: skip
    target = drive(rollout, steps=200)
    assert target.state == Target.State.FAILED
    assert target.why == "Setting the target was refused: Device is busy."
    refused = target.steps.filter(kind=Step.Kind.SET_TARGET, outcome=Step.Outcome.WARNING)
    assert refused.count() == rollout_engine.REFUSALS
