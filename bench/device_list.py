"""The device list page through the portal against a direct upstream list read.

1,000 devices, 50 ms of emulator latency. The direct call is what any page showing the
fleet must at least wait for; the ratio is the portal's overhead on top of it. The portal
runs with its read cache off, so every page load pays for a full upstream read.
"""

from __future__ import annotations

import requests

from bench.common import TOKEN, emulator, p, portal, signed_in, timings

FLEET, LATENCY_MS, RUNS = 1000, 50, 200


def run() -> dict[str, float]:
    with (
        emulator("--fleet-size", str(FLEET), "--latency-ms", str(LATENCY_MS)) as upstream,
        portal(upstream, {"PORTAL_READ_CACHE_SECONDS": "0"}) as site,
    ):
        browser = signed_in(site)
        direct = requests.Session()
        headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}

        def direct_call() -> None:
            response = direct.get(f"{upstream}/v1/user/devices", headers=headers, timeout=10)
            assert len(response.json()["data"]) == FLEET

        def portal_call() -> None:
            response = browser.get(f"{site}/devices/", timeout=10)
            assert response.status_code == 200 and "espressif" in response.text

        # Interleave the two so both see the same machine load.
        direct_ms, portal_ms = [], []
        for _ in range(RUNS // 20):
            direct_ms += timings(direct_call, 20, warmup=1)
            portal_ms += timings(portal_call, 20, warmup=1)
    result = {
        "direct_p50": p(direct_ms, 50),
        "direct_p95": p(direct_ms, 95),
        "portal_p50": p(portal_ms, 50),
        "portal_p95": p(portal_ms, 95),
    }
    result["ratio_p50"] = result["portal_p50"] / result["direct_p50"]
    result["ratio_p95"] = result["portal_p95"] / result["direct_p95"]
    return result


def report(result: dict[str, float]) -> str:
    return "\n".join(
        [
            f"### Device list page, {FLEET:,} devices, {LATENCY_MS} ms upstream latency",
            "",
            "| | p50 (ms) | p95 (ms) |",
            "|---|---|---|",
            f"| direct `GET /v1/user/devices` | {result['direct_p50']:.1f} | "
            f"{result['direct_p95']:.1f} |",
            f"| portal `/devices/` (cache off) | {result['portal_p50']:.1f} | "
            f"{result['portal_p95']:.1f} |",
            f"| ratio | **{result['ratio_p50']:.2f}×** (target ≤ 1.15×) | "
            f"{result['ratio_p95']:.2f}× |",
        ]
    )
