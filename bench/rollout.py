"""Staged rollouts of 100 devices, run by a real worker process (`manage.py db_worker`).

The emulator (in this process, on loopback, LATENCY_MS per API call, TIME_SCALE times faster
OTAs and restarts) holds 100 online ESP8266 devices; the portal's database is a fresh SQLite
file; the rollout is planned and started here through fleet/rollouts.py, as the pages do, and
one worker advances it (following devices every POLL_S).

1. Failures: waves 5 %, 25 %, 100 % (no canary), 5 devices drawn with a seed come back on
   their old build, a threshold of 3 failures, a soak of SOAK_S. Reported: the wave where the
   rollout paused and the one the third failure was in, how many devices failed (at most the
   threshold plus those in flight when it was reached), and how many devices beyond that wave
   the upstream heard of (none, is the rule).
2. No failures, no soak: wall time from start to done, the upstream calls it made by kind and
   per device, and the time the token's budget (PORTAL_CALLS_PER_MINUTE less the share kept
   for the pages) would need for those calls.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import ROOT, SECRET_KEY

DEVICES, FAILING, THRESHOLD = 100, 5, 3
# Seeds of the 5 failing devices: with 2, the third failure is in wave 2 (the 75 of wave 3
# must stay untouched); with 13, in wave 3.
SEEDS = (2, 13)
LATENCY_MS, TIME_SCALE, POLL_S, SOAK_S = 10, 10.0, 0.2, 1
WAVES = [5, 25, 100]
PASS_PERCENT = 90  # a wave passes with 90 % healthy: one failure in a wave is not a stop
TOKEN = "bench-rollout-token"
KEY = "ZmRlYmVuY2gta2V5LWJlbmNoLWtleS1iZW5jaC1rZXk="


def _env(data_dir: str, upstream: str) -> dict[str, str]:
    return {
        "PORTAL_DATA_DIR": data_dir,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "PORTAL_TOKEN_KEYS": KEY,
        "IOT_API_BASE_URL": upstream,
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
    from portal.roles import Role
    from tests import firmware_samples as samples

    token = services.save_token("Bench", TOKEN)
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


def _rollout(emu: Any, failing: bool, seed: int = 0) -> dict[str, Any]:
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
    emu.clear_log()
    began = time.monotonic()
    rollouts.start(Actor(user=user), rollout)
    ended = (Rollout.State.PAUSED,) if failing else (Rollout.State.DONE,)

    def settled() -> bool:
        rollout.refresh_from_db()
        if rollout.state not in ended:
            return False
        return not rollout.targets.filter(state__in=Target.IN_FLIGHT).exists()

    try:
        _until(settled, 300)
    except RuntimeError:
        print(rollout.state, rollouts.counts(rollout), file=sys.stderr)
        raise
    wall = time.monotonic() - began
    log = emu.request_log
    calls = Counter(_kind(e) for e in log if e["path"].startswith("/v1/"))
    result: dict[str, Any] = {"wall": wall, "calls": dict(calls), "total": sum(calls.values())}
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


def run() -> dict[str, Any]:
    from emulator import Emulator

    with tempfile.TemporaryDirectory() as data_dir:
        emu = Emulator(tokens=(TOKEN,), port=0, latency_ms=LATENCY_MS, ota_seconds=8.0,
                       reboot_seconds=5.0)  # fmt: skip
        emu.start()
        emu.set_time_scale(TIME_SCALE)
        env = _env(data_dir, emu.url)
        os.environ.update(env)
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        log = Path(data_dir) / "worker.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "manage.py", "db_worker", "--queue-name", "*", "--interval",
                 "0.1", "--no-startup-delay"],
                cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            failures = [_rollout(emu, failing=True, seed=seed) for seed in SEEDS]
            clean = _rollout(emu, failing=False)
        except Exception:
            print(log.read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            worker.terminate()
            worker.wait(30)
            emu.stop()
        per_minute = settings.PORTAL_CALLS_PER_MINUTE - settings.PORTAL_CALLS_RESERVED_FOR_PAGES
        return {"failures": failures, "clean": clean, "fleet_per_minute": per_minute,
                "max_active": settings.PORTAL_ROLLOUT_MAX_ACTIVE}  # fmt: skip


def report(result: dict[str, Any]) -> str:
    c = result["clean"]
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
        f"{c['total']} upstream calls ({c['total'] / DEVICES:.2f} per device: {per_device}) |",
        f"| the budget ({per_minute} fleet calls a minute) | those calls need {allowed:.0f} s "
        f"at the budget's rate; wall time {c['wall'] / allowed:.2f}× that |"
        if allowed
        else "| the budget | no budget set |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run()))
