"""A bulk reboot through fleet work: a real worker (`manage.py db_worker`) beside the portal.

1. 100 devices at 100 ms upstream latency, no budget limit (PORTAL_CALLS_PER_MINUTE=0,
   PORTAL_FLEET_MAX_IN_FLIGHT=16): the job's wall time against one direct call, measured in
   the same run (target ≤ 15 × one call).
2. The same 100 devices with a budget of 60 a minute, none reserved for pages, against an
   emulator throttled at 60 calls a minute: the wall time against what the budget allows
   (99 intervals of a second after the first call, plus that call; target within 10 %), and
   the throttle's refusals (target 0). About 100 s.
3. The device list page (500 devices, 50 ms latency, read cache off) while a 500-device job
   runs, against the same page idle just before and just after (target p50 ≤ 1.2 ×): with
   the default budget (60 a minute, 12 for the pages: the job paced at 48 a minute), and, as
   the worst case, with no budget limit (8 in flight).

The job's wall time is the job's own: from its creation to its end, as the database has it.
BENCH_FLEET_PARTS chooses the parts (`BENCH_FLEET_PARTS=1 python -m bench fleet_reboot`: part 1
alone, a few seconds); all three by default.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from bench.common import ROOT, TOKEN, emulator, p, portal_site, signed_in, timings

DEVICES, LATENCY_MS = 100, 100
BUDGET = 60
BIG_JOB, LIST_LATENCY_MS, LIST_RUNS = 500, 50, 60

JOB = """
from django.contrib.auth.models import User
from fleet import jobs
from portal.models import ApiToken
from portal.outcomes import Actor
uids = {uids!r}
user = User.objects.get(username="bench")
outcome = jobs.create(Actor(user=user, ip="127.0.0.1"), ApiToken.objects.get(), "reboot",
                      [(uid, uid, True) for uid in uids])
print("JOB", outcome.answer.pk)
"""


CANCEL = """
from fleet import jobs
from fleet.models import Job
from portal.outcomes import Actor
job = Job.objects.get(pk={job})
jobs.cancel(Actor(user=job.created_by, ip="127.0.0.1"), job)
"""


def _manage(env: dict[str, str], script: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", "shell"], cwd=ROOT, env=env, input=script, text=True,
        capture_output=True, check=True,
    ).stdout  # fmt: skip


@contextmanager
def _worker(env: dict[str, str]) -> Iterator[None]:
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--queue-name", "*", "--interval", "0.1",
         "--no-startup-delay"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(30)


def _online(upstream: str) -> list[str]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
    uids = [d["uid"] for d in requests.get(f"{upstream}/v1/user/devices", headers=headers,
                                           timeout=30).json()["data"]]  # fmt: skip
    for uid in uids:
        requests.post(f"{upstream}/_emulator/devices/{uid}", json={"status": "online"}, timeout=5)
    requests.delete(f"{upstream}/_emulator/log", timeout=5)
    return uids


def _job(env: dict[str, str], uids: list[str]) -> int:
    return int(_manage(env, JOB.format(uids=uids)).split("JOB", 1)[1].split()[0])


def _state(env: dict[str, str], job: int) -> tuple[str, float]:
    """The job's state and wall time (creation to end, seconds), read from its database."""
    with sqlite3.connect(f"{env['PORTAL_DATA_DIR']}/portal.sqlite3", timeout=30) as db:
        state, wall = db.execute(
            "SELECT state, (julianday(finished_at) - julianday(created_at)) * 86400 "
            "FROM fleet_job WHERE id = ?",
            (job,),
        ).fetchone()
    return state, wall or 0.0


def _wait(env: dict[str, str], job: int, seconds: float = 600) -> float:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state, wall = _state(env, job)
        if state == "done":
            return wall
        time.sleep(0.2)
    raise RuntimeError(f"job {job} did not end")


def _refusals(upstream: str) -> int:
    log = requests.get(f"{upstream}/_emulator/log", timeout=10).json()["data"]
    return sum(1 for entry in log if entry["status"] == 429)


def _direct_ms(upstream: str, uid: str) -> float:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
    session = requests.Session()
    samples = timings(
        lambda: session.post(f"{upstream}/v1/user/devices/{uid}/reboot", headers=headers,
                             timeout=10),
        7, warmup=1,
    )  # fmt: skip
    return statistics.median(samples)


def _list_during_job(portal_env: dict[str, str]) -> tuple[list[float], list[float]]:
    """The device list page's timings idle, then while a BIG_JOB-device job runs (until it
    ends, or for LIST_RUNS loads when the budget paces it over minutes)."""
    with (
        emulator("--fleet-size", str(BIG_JOB), "--latency-ms", str(LIST_LATENCY_MS)) as upstream,
        portal_site(upstream, portal_env) as (site, _, env),
        _worker(env),
    ):
        uids = _online(upstream)
        browser = signed_in(site)

        def page() -> None:
            response = browser.get(f"{site}/devices/", timeout=30)
            assert response.status_code == 200

        idle = timings(page, LIST_RUNS, warmup=5)
        job = _job(env, uids)
        busy: list[float] = []
        while len(busy) < LIST_RUNS * 3 and _state(env, job)[0] != "done":
            busy += timings(page, 5, warmup=0)
        if _state(env, job)[0] != "done":
            _manage(env, CANCEL.format(job=job))
        time.sleep(2)
        idle += timings(page, LIST_RUNS, warmup=2)  # idle again: before and after, one load
    return idle, busy


def parts() -> str:
    return os.environ.get("BENCH_FLEET_PARTS", "123")


def run() -> dict[str, float]:
    result: dict[str, float] = {}
    unlimited = {"PORTAL_CALLS_PER_MINUTE": "0", "PORTAL_FLEET_MAX_IN_FLIGHT": "16"}
    if "1" in parts():
        _part_one(result, unlimited)
    if "2" in parts():
        _part_two(result)
    if "3" in parts():
        _part_three(result, unlimited)
    return result


def _part_one(result: dict[str, float], unlimited: dict[str, str]) -> None:
    with (
        emulator("--fleet-size", str(DEVICES + 1), "--latency-ms", str(LATENCY_MS)) as upstream,
        portal_site(upstream, unlimited) as (_, _, env),
        _worker(env),
    ):
        uids = _online(upstream)
        result["direct_ms"] = _direct_ms(upstream, uids[-1])
        result["unlimited_s"] = _wait(env, _job(env, uids[:DEVICES]))
        result["unlimited_calls"] = result["unlimited_s"] * 1000 / result["direct_ms"]


def _part_two(result: dict[str, float]) -> None:
    budgeted = {
        "PORTAL_CALLS_PER_MINUTE": str(BUDGET),
        "PORTAL_CALLS_RESERVED_FOR_PAGES": "0",
    }
    with (
        emulator("--fleet-size", str(DEVICES), "--latency-ms", str(LATENCY_MS)) as upstream,
        portal_site(upstream, budgeted) as (_, _, env),
        _worker(env),
    ):
        uids = _online(upstream)
        if "direct_ms" not in result:  # part 2 alone: its own direct call
            result["direct_ms"] = _direct_ms(upstream, uids[-1])
            requests.delete(f"{upstream}/_emulator/log", timeout=5)
        requests.post(f"{upstream}/_emulator/throttle", json={"calls": BUDGET}, timeout=5)
        result["budget_s"] = _wait(env, _job(env, uids))
        result["budget_allowed_s"] = (DEVICES - 1) * 60 / BUDGET + result["direct_ms"] / 1000
        result["budget_ratio"] = result["budget_s"] / result["budget_allowed_s"]
        result["budget_429"] = _refusals(upstream)


def _part_three(result: dict[str, float], unlimited: dict[str, str]) -> None:
    for name, fleet_env in (
        ("budget", {"PORTAL_CALLS_PER_MINUTE": "60", "PORTAL_CALLS_RESERVED_FOR_PAGES": "12"}),
        ("unlimited", {**unlimited, "PORTAL_FLEET_MAX_IN_FLIGHT": "8"}),
    ):
        idle, busy = _list_during_job({"PORTAL_READ_CACHE_SECONDS": "0", **fleet_env})
        result[f"list_{name}_idle_p50"] = p(idle, 50)
        result[f"list_{name}_busy_p50"] = p(busy, 50)
        result[f"list_{name}_samples"] = len(busy)
        result[f"list_{name}_ratio"] = p(busy, 50) / p(idle, 50)


def report(result: dict[str, float]) -> str:
    rows = []
    if "unlimited_s" in result:
        rows += [
            f"| one direct call (`POST …/reboot`, median) | {result['direct_ms']:.0f} ms | |",
            f"| the job, no budget limit, 16 in flight | {result['unlimited_s']:.2f} s = "
            f"**{result['unlimited_calls']:.1f} × one call** | ≤ 15 × |",
        ]
    if "budget_s" in result:
        rows += [
            f"| the job, budget {BUDGET}/min (0 reserved) | {result['budget_s']:.1f} s of "
            f"{result['budget_allowed_s']:.1f} s allowed = **{result['budget_ratio']:.3f} ×** "
            f"| within 10 % |",
            f"| 429 answers from the emulator throttled at {BUDGET}/min | "
            f"**{result['budget_429']:.0f}** | 0 |",
        ]
    if "list_budget_ratio" in result:
        rows += [
            f"| device list p50 ({BIG_JOB} devices, {LIST_LATENCY_MS} ms) while a "
            f"{BIG_JOB}-device job runs, {label} ({result[f'list_{name}_samples']:.0f} "
            f"loads) | {result[f'list_{name}_busy_p50']:.0f} ms against "
            f"{result[f'list_{name}_idle_p50']:.0f} ms idle = "
            f"**{result[f'list_{name}_ratio']:.2f} ×** | {target} |"
            for name, label, target in (
                ("budget", "default budget (60/min, 12 for pages)", "≤ 1.2 ×"),
                ("unlimited", "no budget limit, 8 in flight", "(the worst case)"),
            )
        ]
    return "\n".join(
        [
            f"### Fleet work: a bulk reboot of {DEVICES} devices, {LATENCY_MS} ms upstream latency",
            "",
            "| | figure | target |",
            "|---|---|---|",
            *rows,
        ]
    )
