"""Many viewers on one team token, each with auto-refresh on: upstream reads per minute.

N signed-in viewers each load the device list, then refresh its rows every REFRESH seconds
(the browser's htmx poll, same request), for DURATION seconds. Counted: the portal
requests made, and the list reads the emulator received (its request log). The portal runs
as in production: gunicorn, 2 workers x 4 threads, the default 5 s read cache; once with
the in-process cache (each worker has its own) and once with Redis (shared) when a Redis
server answers on 127.0.0.1:6379.
"""

from __future__ import annotations

import random
import threading
import time

import requests

from bench.common import emulator, portal, signed_in

VIEWERS, REFRESH, DURATION, WINDOW = 20, 5.0, 30.0, 5
REDIS = "redis://127.0.0.1:6379/15"
PREFIX = "bench-shared-token"


def redis_up() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def _run(extra_env: dict[str, str]) -> dict[str, float]:
    settings = {"PORTAL_READ_CACHE_SECONDS": str(WINDOW), **extra_env}
    with (
        emulator("--fleet-size", "200", "--latency-ms", "50") as upstream,
        portal(upstream, settings) as site,
    ):
        sessions = [signed_in(site) for _ in range(VIEWERS)]
        requests.delete(f"{upstream}/_emulator/log", timeout=5)
        made: list[int] = []
        headers = {"HX-Request": "true", "HX-Target": "device-rows"}
        stop = time.monotonic() + DURATION

        def viewer(session: requests.Session) -> None:
            session.get(f"{site}/devices/", timeout=30)
            made.append(1)
            time.sleep(random.uniform(0, REFRESH))  # viewers are not in step
            while time.monotonic() < stop:
                session.get(f"{site}/devices/", headers=headers, timeout=30)
                made.append(1)
                time.sleep(REFRESH)

        threads = [threading.Thread(target=viewer, args=(s,)) for s in sessions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        log = requests.get(f"{upstream}/_emulator/log", timeout=5).json()["data"]
    reads = sum(1 for e in log if e["path"] == "/v1/user/devices")
    per_minute = 60 / DURATION
    return {"requests_per_min": len(made) * per_minute, "reads_per_min": reads * per_minute}


def run() -> dict[str, dict[str, float]]:
    random.seed(1)
    results = {"in-process cache (per worker)": _run({})}
    if redis_up():
        try:
            results["Redis cache (shared)"] = _run(
                {"REDIS_URL": REDIS, "PORTAL_CACHE_PREFIX": PREFIX}
            )
        finally:
            _forget_redis_keys()
    return results


def _forget_redis_keys() -> None:
    """Leave nothing behind in the Redis server (only this benchmark's own prefix)."""
    import redis

    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(f"{PREFIX}:*"):
        client.delete(key)


def report(results: dict[str, dict[str, float]]) -> str:
    lines = [
        f"### {VIEWERS} viewers on one token, rows refreshing every {REFRESH:g} s, "
        f"{WINDOW} s read cache",
        "",
        "| cache | portal requests / min | upstream list reads / min | without the cache |",
        "|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['requests_per_min']:.0f} | **{r['reads_per_min']:.0f}** | "
            f"{r['requests_per_min']:.0f} (one read per request) |"
        )
    lines += [
        "",
        f"At most one read per window per cache: {60 / WINDOW:.0f} a minute with Redis; "
        f"with the in-process cache, up to that per gunicorn worker (2 here).",
    ]
    return "\n".join(lines)
