"""Staged rollouts of 100 devices, run by a real worker process (`manage.py db_worker`).

The emulator (in this process, on loopback, LATENCY_MS per API call, TIME_SCALE times faster
OTAs and restarts) gets 100 new online ESP8266 devices for each rollout; the portal's database
is a fresh SQLite file, which a gunicorn portal (bench/common.py, for part 3's page), this
process and the worker share; each rollout is planned and started here through
fleet/rollouts.py, as the pages do, and one worker advances it (following devices every POLL_S).

1. Failures: waves 5 %, 25 %, 100 % (no canary), 5 devices drawn with a seed come back on
   their old build, a threshold of 3 failures, a soak of SOAK_S. Reported: the wave where the
   rollout paused and the one the third failure was in, how many devices failed (at most the
   threshold plus those in flight when it was reached), and how many devices beyond that wave
   the upstream heard of (none, is the rule).
2. No failures, no soak: wall time from start to done, the upstream calls it made by kind and
   per device, and the time the token's budget (PORTAL_CALLS_PER_MINUTE less the share kept
   for the pages) would need for those calls, and the worker process's CPU time (user and
   system, /proc) over the rollout per upstream call.
3. The device list page while the same rollout (no failures, no soak) runs, against the same
   page idle for IDLE_S seconds just before and IDLE_S just after it (target p50 ≤ 1.2 ×), as
   bench/fleet_reboot.py measures it beside a bulk job: a signed-in session loads `/devices/`
   of the gunicorn portal (bench/common.py, on the same database and emulator as the worker)
   back to back; a load counts as "during" only when the rollout's first upstream call had
   been made before it began and the rollout had not settled when it ended. The page's own
   list reads are left out of the rollout's calls. It is a run of its own, after part 2, so
   that the loads do not weigh on part 2's wall time (its wall time is reported too: what the
   loads cost it). Reported beside it: the cores that other work on the machine (not this
   bench's processes) kept busy while idle and while under way, which a shared machine's
   ratio must be read against.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import ROOT, TOKEN, OtherWork, p, portal_site, signed_in, timings

DEVICES, FAILING, THRESHOLD = 100, 5, 3
# Seeds of the 5 failing devices: with 2, the third failure is in wave 2 (the 75 of wave 3
# must stay untouched); with 13, in wave 3.
SEEDS = (2, 13)
LATENCY_MS, TIME_SCALE, POLL_S, SOAK_S = 10, 10.0, 0.2, 1
WAVES = [5, 25, 100]
PASS_PERCENT = 90  # a wave passes with 90 % healthy: one failure in a wave is not a stop
IDLE_S = 10  # seconds of device list loads idle before the rollout, and as many after it
LIST_PATH = "/v1/user/devices"  # the device list page's upstream read (not the rollout's)


def _env() -> dict[str, str]:
    """What the bench's own Django, the worker and the portal run with, beside what
    bench/common.py's `portal_site` sets (data directory, upstream, keys, cookies)."""
    return {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_READ_CACHE_SECONDS": "0",
        "PORTAL_LOG_LEVEL": "WARNING",
        "PORTAL_ROLLOUT_POLL_SECONDS": str(POLL_S),
        "PORTAL_FLEET_WORKER_TIMEOUT": "5",
        # The token's budget (fleet/budget.py), none of it kept for the pages: the run is
        # paced by it, and part 2 compares its wall time with what the budget allows.
        "PORTAL_CALLS_PER_MINUTE": os.environ.get("BENCH_ROLLOUT_CALLS_PER_MINUTE", "1200"),
        "PORTAL_CALLS_RESERVED_FOR_PAGES": "0",
    }


def _kind(entry: dict[str, Any]) -> str:
    path, method = entry["path"], entry["method"]
    if path == LIST_PATH:
        return "device list"
    if path.endswith("/ota"):
        return "trigger"
    if path.endswith("/set-target"):
        return "set target"
    if path.endswith("/firmwares"):
        return "upload" if method == "POST" else "firmware list"
    return "detail" if method == "GET" else f"{method} other"


def _setup(emu: Any) -> tuple[Any, Any, Any, list[tuple[str, str]]]:
    from django.contrib.auth.models import User

    from fleet.models import Build, BuildFile
    from portal import services
    from portal.models import ApiToken
    from portal.roles import Role
    from tests import firmware_samples as samples

    token = ApiToken.objects.get(label="Bench")  # bench/common.py's, the page's user's too
    user = User.objects.create_user(f"bench-{time.monotonic_ns()}")
    services.set_role(user, Role.MAINTAINER)
    content = samples.esp8266_image(200_000, f"bench-{time.monotonic_ns()}")
    md5 = hashlib.md5(content, usedforsecurity=False).hexdigest()
    build = Build.objects.create(token=token, name="Bench build", version="9.9.9", md5=md5,
                                 size=len(content), kind="esp8266", chip="ESP8266")  # fmt: skip
    BuildFile.objects.create(build=build, content=content)
    source = emu.device_uid(TOKEN, "Kitchen Relay")
    chosen = []
    for n in range(DEVICES):
        uid = f"bench-{build.pk}-{n:03d}"
        emu.copy_device(TOKEN, source, uid)
        chosen.append((uid, f"Bench {n}"))
    return token, user, build, chosen


def _until(check, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError("the rollout did not get there in time")


def _cpu(pid: int) -> float:
    """The CPU seconds (user and system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rollout(
    emu: Any, failing: bool, seed: int = 0, page: Any = None, worker: int = 0
) -> dict[str, Any]:
    """One rollout from start to its end; with `page` (a device list load), that page's
    timings idle before and after it, and while it is under way. `worker`: the worker's pid,
    whose CPU time over the rollout is reported per upstream call."""
    from fleet import rollouts
    from fleet.models import Rollout, Target
    from portal.outcomes import Actor

    token, user, build, chosen = _setup(emu)
    bad = random.Random(seed).sample(range(DEVICES), FAILING) if failing else []
    bad_uids = {chosen[i][0] for i in bad}
    emu.set_ota_outcomes(devices=dict.fromkeys(bad_uids, "old_build"))
    outcome = rollouts.plan(
        Actor(user=user), token, build, chosen, canary=0, percents=WAVES,
        soak_seconds=SOAK_S if failing else 0, max_failures=THRESHOLD if failing else None,
        pass_percent=PASS_PERCENT,
    )  # fmt: skip
    rollout = outcome.answer
    _until(lambda: Rollout.objects.get(pk=rollout.pk).state == Rollout.State.DRAFT, 300)
    rollout.refresh_from_db()
    before, after, during = OtherWork(), OtherWork(), OtherWork()
    idle = _idle(page, before, warmup=5) if page else []
    emu.clear_log()
    cpu = _cpu(worker) if worker else 0.0
    began = time.monotonic()
    rollouts.start(Actor(user=user), rollout)
    ended = (Rollout.State.PAUSED,) if failing else (Rollout.State.DONE,)

    def settled() -> bool:
        rollout.refresh_from_db()
        if rollout.state not in ended:
            return False
        return not rollout.targets.filter(state__in=Target.IN_FLIGHT).exists()

    busy: list[float] = []
    try:
        if page is None:
            _until(settled, 300)
        else:
            busy = _during(emu, page, settled, began + 300, during)
    except RuntimeError:
        print(rollout.state, rollouts.counts(rollout), file=sys.stderr)
        raise
    wall = time.monotonic() - began
    cpu = _cpu(worker) - cpu if worker else 0.0
    log = emu.request_log
    calls = Counter(_kind(e) for e in log if e["path"].startswith("/v1/"))
    listed = calls.pop("device list", 0)
    result: dict[str, Any] = {"wall": wall, "calls": dict(calls), "total": sum(calls.values())}
    result["cpu_ms_per_call"] = cpu * 1000 / max(1, result["total"])
    if page is not None:
        time.sleep(2)
        again = _idle(page, after, warmup=2)  # idle again: before and after, one load
        result.update(idle_p50=p(idle + again, 50), busy_p50=p(busy, 50), loads=len(busy),
                      list_reads=listed, idle_loads=len(idle + again),
                      fleet=len(emu.uids(TOKEN)), before_p50=p(idle, 50), after_p50=p(again, 50),
                      before_others=before.cores, after_others=after.cores,
                      busy_others=during.cores)  # fmt: skip
        result["ratio"] = result["busy_p50"] / result["idle_p50"]
    targets = list(rollout.targets.select_related("wave"))
    if failing:
        failed = [t for t in targets if t.state in Target.FAILURES]
        third = sorted(failed, key=lambda t: t.finished_at)[min(THRESHOLD, len(failed)) - 1]
        paused_wave = next(w for w in rollout.waves.all() if w.state == "paused")
        later = {t.device_uid for t in targets if t.wave.number > paused_wave.number}
        heard = {e["path"].split("/")[4] for e in log if e["path"].startswith("/v1/user/devices/")}
        result.update(
            paused_wave=str(paused_wave), third_in=str(third.wave), failed=len(failed),
            reason=rollout.paused_reason,
            bad_in_waves=sorted({str(t.wave) for t in targets if t.device_uid in bad_uids}),
            touched_beyond=len(later & heard), beyond=len(later), seed=seed,
            unstarted=sum(
                t.state == Target.State.WAITING and t.device_uid not in heard
                for t in targets if t.wave_id == paused_wave.pk
            ),
            healthy=sum(t.state == Target.State.HEALTHY for t in targets),
        )  # fmt: skip
    else:
        result["healthy"] = sum(t.state == Target.State.HEALTHY for t in targets)
    return result


def _idle(page: Any, load: OtherWork, warmup: int) -> list[float]:
    """`page`'s timings (ms), loaded back to back for IDLE_S seconds."""
    timings(page, 0, warmup=warmup)
    samples: list[float] = []
    with load.span():
        end = time.monotonic() + IDLE_S
        while time.monotonic() < end:
            samples += timings(page, 1, warmup=0)
    return samples


def _during(emu: Any, page: Any, settled: Any, deadline: float, load: OtherWork) -> list[float]:
    """`page`'s timings (ms) while the rollout is under way: from its first upstream call
    (the worker's, not a page's list read) until it settles; a load that began before that
    call or ended after the rollout settled is not kept."""

    def begun() -> bool:
        return any(e["path"] != LIST_PATH for e in emu.request_log)

    while not begun():
        if time.monotonic() > deadline:
            raise RuntimeError("the rollout did not begin in time")
        time.sleep(0.01)
    busy: list[float] = []
    with load.span():
        while not settled():
            if time.monotonic() > deadline:
                raise RuntimeError("the rollout did not get there in time")
            started = time.perf_counter()
            page()
            ms = (time.perf_counter() - started) * 1000
            if not settled():
                busy.append(ms)
    return busy


def run() -> dict[str, Any]:
    from emulator import Emulator

    emu = Emulator(tokens=(TOKEN,), port=0, latency_ms=LATENCY_MS, ota_seconds=8.0,
                   reboot_seconds=5.0)  # fmt: skip
    emu.start()
    emu.set_time_scale(TIME_SCALE)
    try:
        # A gunicorn portal on a fresh SQLite database (migrated, its user "bench" mapped to
        # the token labelled "Bench"); this process and the worker on the same database.
        with portal_site(emu.url, _env()) as (site, _, env):
            os.environ.update(env)
            import django

            django.setup()
            from django.conf import settings

            browser = signed_in(site)

            def page() -> None:
                response = browser.get(f"{site}/devices/", timeout=30)
                assert response.status_code == 200 and "Kitchen Relay" in response.text

            result = _with_worker(env, emu, page)
            per_minute = settings.PORTAL_CALLS_PER_MINUTE
            per_minute -= settings.PORTAL_CALLS_RESERVED_FOR_PAGES
            result.update(fleet_per_minute=per_minute,
                          max_active=settings.PORTAL_ROLLOUT_MAX_ACTIVE)  # fmt: skip
            return result
    finally:
        emu.stop()


def _with_worker(env: dict[str, str], emu: Any, page: Any) -> dict[str, Any]:
    log = Path(env["PORTAL_DATA_DIR"]) / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--queue-name", "*", "--interval",
             "0.1", "--no-startup-delay"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        failures = [_rollout(emu, failing=True, seed=seed) for seed in SEEDS]
        clean = _rollout(emu, failing=False, worker=worker.pid)
        listed = _rollout(emu, failing=False, page=page, worker=worker.pid)
    except Exception:
        print(log.read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        worker.terminate()
        worker.wait(30)
    return {"failures": failures, "clean": clean, "listed": listed}


def report(result: dict[str, Any]) -> str:
    c, w = result["clean"], result["listed"]
    per_minute = result["fleet_per_minute"]
    allowed = c["total"] / per_minute * 60 if per_minute > 0 else 0.0
    kinds = ("upload", "set target", "detail", "trigger", "firmware list")
    per_device = ", ".join(f"{k} {c['calls'].get(k, 0) / DEVICES:.2f}" for k in kinds)
    lines = [
        "### Rollout: 100 devices, waves 5 / 25 / 100 %",
        "",
        f"A wave passes with {PASS_PERCENT} % healthy. One worker, the emulator {LATENCY_MS} ms "
        f"a call and {TIME_SCALE:g}× faster (an OTA in "
        f"{8 / TIME_SCALE:.1f} s), follow reads every {POLL_S} s, at most "
        f"{result['max_active']} devices in progress at once.",
        "",
        "| run | figure |",
        "|---|---|",
        *(
            f"| {FAILING} failing (old build, seed {r['seed']}), threshold {THRESHOLD}, soak "
            f"{SOAK_S} s | paused in {r['paused_wave']}, third failure in {r['third_in']} "
            f"(failing devices in {', '.join(r['bad_in_waves'])}); {r['failed']} failed (≤ "
            f"{THRESHOLD} + in flight); {r['unstarted']} devices of that wave never started; "
            f"{r['touched_beyond']} of {r['beyond']} devices beyond it touched; "
            f"{r['healthy']} healthy; {r['wall']:.1f} s |"
            for r in result["failures"]
        ),
        f"| no failures, no soak | {c['healthy']} healthy in {c['wall']:.1f} s; "
        f"{c['total']} upstream calls ({c['total'] / DEVICES:.2f} per device: {per_device}); "
        f"the worker's CPU {c['cpu_ms_per_call']:.1f} ms a call |",
        f"| the budget ({per_minute} fleet calls a minute) | those calls need {allowed:.0f} s "
        f"at the budget's rate; wall time {c['wall'] / allowed:.2f}× that |"
        if allowed
        else "| the budget | no budget set |",
        f"| no failures, no soak, the device list ({w['fleet']} devices, read cache off) loaded "
        f"back to back throughout | p50 **{w['busy_p50']:.0f} ms** during the rollout "
        f"({w['loads']} loads) against {w['idle_p50']:.0f} ms idle ({w['idle_loads']} loads in "
        f"{IDLE_S} s before it and {IDLE_S} s after) = **{w['ratio']:.2f}×** (target ≤ 1.2×); "
        f"other work on the machine meanwhile: {w['busy_others']:.2f} cores |",
        f"| the page idle, before and after | {w['before_p50']:.0f} ms before "
        f"({w['before_others']:.2f} cores of other work), {w['after_p50']:.0f} ms after "
        f"({w['after_others']:.2f} cores) |",
        f"| that rollout | {w['healthy']} healthy in {w['wall']:.1f} s; {w['total']} upstream "
        f"calls (the page's {w['list_reads']} list reads apart); the worker's CPU "
        f"{w['cpu_ms_per_call']:.1f} ms a call"
        + (
            f", {w['wall'] / (w['total'] / per_minute * 60):.2f}× the budget's need |"
            if allowed
            else " |"
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run()))
