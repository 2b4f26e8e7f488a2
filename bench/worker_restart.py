"""Throughput through gunicorn worker replacements, with 50 users on keep-alive connections.

50 client threads, each a signed-in `requests.Session` (one keep-alive connection), load the
device list as fast as it answers for a minute. The emulator answers every call after 200 ms
and the portal's read cache is off, so each page is one upstream read and the portal is
upstream-bound: its ceiling is workers × threads / latency (2 × 4 / 0.2 s = 40 pages a
second). `PORTAL_MAX_REQUESTS` is low (300, with gunicorn's 10 % jitter) so workers are
replaced several times during the run; the bench counts the replacements from the worker
processes it sees (children of the gunicorn master).

It runs twice, interleaved in one invocation: with `PORTAL_CONNECTION_REQUESTS=0` (a
connection is kept for as long as the client keeps using it: the portal before this change)
and with the default (a connection is closed after that many requests, so clients reconnect
and spread over the workers again).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from pathlib import Path

import requests

from bench.common import emulator, p, portal_process, signed_in

LATENCY_MS, CLIENTS, WORKERS, THREADS = 200, 50, 2, 4
MAX_REQUESTS, WARMUP_S, RUN_S, WINDOW_S = 300, 5.0, 60.0, 5.0
CEILING = WORKERS * THREADS / (LATENCY_MS / 1000)
SETUPS: dict[str, dict[str, str]] = {
    "kept alive for as long as the client likes (before)": {
        "PORTAL_CONNECTION_REQUESTS": "0",
        "PORTAL_CLOSE_BUSY_CONNECTIONS": "false",
    },
    "closed by a busy worker, or after 100 requests (after, the default)": {},
}
# Other setups to compare, e.g. BENCH_SETUPS='n1=PORTAL_CONNECTION_REQUESTS:1;default='.
if os.environ.get("BENCH_SETUPS"):
    SETUPS = {
        name: dict(kv.split(":") for kv in spec.split(",") if kv)
        for name, spec in (item.split("=", 1) for item in os.environ["BENCH_SETUPS"].split(";"))
    }


def _workers(master: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                found.add(int(entry.name))
    return found


def _one(upstream: str, setup: dict[str, str]) -> dict[str, float]:
    env = {"PORTAL_READ_CACHE_SECONDS": "0", "PORTAL_MAX_REQUESTS": str(MAX_REQUESTS), **setup}
    with portal_process(upstream, env) as (site, proc):
        cookies = signed_in(site).cookies
        done: list[tuple[float, float]] = []  # (finished at, ms)
        errors = [0]
        stop = threading.Event()
        lock = threading.Lock()

        def client() -> None:
            session = requests.Session()
            session.cookies.update(cookies)
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    ok = session.get(f"{site}/devices/", timeout=30).status_code == 200
                except requests.RequestException:
                    ok = False
                finished = time.perf_counter()
                with lock:
                    if ok:
                        done.append((finished, (finished - started) * 1000))
                    else:
                        errors[0] += 1

        seen: set[int] = set(_workers(proc.pid))
        threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        begin = time.perf_counter() + WARMUP_S
        end = begin + RUN_S
        while time.perf_counter() < end:
            seen |= _workers(proc.pid)
            time.sleep(0.2)
        stop.set()
        for thread in threads:
            thread.join(35)
    counted = [(at, ms) for at, ms in done if begin <= at < end]
    windows = [
        sum(1 for at, _ in counted if begin + i * WINDOW_S <= at < begin + (i + 1) * WINDOW_S)
        / WINDOW_S
        for i in range(int(RUN_S / WINDOW_S))
    ]
    latencies = [ms for _, ms in counted]
    rate = len(counted) / RUN_S
    return {
        "rate": rate,
        "share": rate / CEILING,
        "worst_window": min(windows),
        "p50": statistics.median(latencies),
        "p95": p(latencies, 95),
        "replacements": len(seen) - WORKERS,
        "errors": errors[0],
        "windows": windows,
    }


def run() -> dict[str, dict[str, float]]:
    with emulator("--latency-ms", str(LATENCY_MS)) as upstream:
        return {name: _one(upstream, value) for name, value in SETUPS.items()}


def report(result: dict[str, dict[str, float]]) -> str:
    lines = [
        f"### Throughput through worker replacements: {CLIENTS} keep-alive clients, "
        f"{LATENCY_MS} ms upstream latency, {WORKERS} workers × {THREADS} threads, "
        f"`PORTAL_MAX_REQUESTS={MAX_REQUESTS}`",
        "",
        f"Ceiling: {WORKERS} × {THREADS} / {LATENCY_MS / 1000:g} s = {CEILING:.0f} pages a "
        f"second. {RUN_S:.0f} s counted after {WARMUP_S:.0f} s of warm-up; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end.",
        "",
        "| connections | pages/s | of the ceiling | worst 5 s (pages/s) | p50 (ms) | p95 (ms) "
        "| worker replacements | failed requests |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result.items():
        lines.append(
            f"| {name} | {r['rate']:.1f} | **{r['share']:.2f}** | {r['worst_window']:.1f} | "
            f"{r['p50']:.0f} | {r['p95']:.0f} | {r['replacements']:.0f} | {r['errors']:.0f} |"
        )
    lines += ["", "Pages a second in each 5 s window:", ""]
    for name, r in result.items():
        lines.append(f"- {name}: " + ", ".join(f"{w:.0f}" for w in r["windows"]))
    return "\n".join(lines)
