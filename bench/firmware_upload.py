"""A 4 MB firmware upload through the portal against a direct upload to the emulator.

Time: RUNS uploads of distinct 4 MB ESP32 images each way, interleaved, same run, same machine.

Memory, two ways:
- The gunicorn worker's peak RSS. Linux keeps a high-water mark per process (VmHWM in
  /proc/PID/status) and resets it when "5" is written to /proc/PID/clear_refs. After small
  warm-up uploads (so code paths are loaded but no 4 MB buffer was ever allocated, which would
  leave glibc's heap holding that much for later reuse), the bench resets the mark of every
  worker, uploads one 4 MB file, and reports the biggest rise over the worker's RSS before it.
- tracemalloc's peak for the upstream call alone (IoTClient.upload_firmware), in this process,
  against requests' own multipart encoder (which reads the file whole and builds the body in
  memory): Python allocations only, so the number of file-sized copies shows plainly.
"""

from __future__ import annotations

import io
import os
import re
import tracemalloc
from pathlib import Path

import requests

from bench.common import TOKEN, emulator, form_key, p, portal, signed_in, timings
from tests import firmware_samples as samples

MB4 = 4 * 1024 * 1024
RUNS = 10
DEVICE = "Greenhouse Sensor"  # an ESP32 DevKit: an ESP32 image passes the checks cleanly


def _device_uid(upstream: str) -> str:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
    devices = requests.get(f"{upstream}/v1/user/devices", headers=headers, timeout=10).json()
    return next(d["uid"] for d in devices["data"] if d["name"] == DEVICE)


def _workers(port: int) -> list[int]:
    """The pids of the gunicorn workers serving `port` (children of the master)."""
    procs = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        procs[int(entry.name)] = (ppid, cmdline)
    masters = [pid for pid, (_, cmd) in procs.items() if f"127.0.0.1:{port}" in cmd]
    return [pid for pid, (ppid, _) in procs.items() if ppid in masters]


def _kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def _in_process_peaks(upstream: str, uid: str) -> dict[str, float]:
    """tracemalloc peak (MB) of the streaming upload and of requests' own encoder."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from portal.iot import IoTClient

    client = IoTClient(TOKEN, base_url=upstream)
    url = f"{upstream}/v1/user/devices/{uid}/firmwares"
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}

    def streamed(file: io.BytesIO) -> None:
        client.upload_firmware(uid, name="trace", file=file, size=MB4)

    def whole(file: io.BytesIO) -> None:
        response = requests.post(
            url, headers=headers, data={"name": "trace"}, files={"file": ("a.bin", file)},
            timeout=60,
        )  # fmt: skip
        response.raise_for_status()

    peaks = {}
    for name, call in (("stream", streamed), ("requests", whole)):
        # The file exists before tracing starts: the peak is what the upload itself added.
        file = io.BytesIO(samples.sized(MB4, salt=f"trace-{name}"))
        tracemalloc.start()
        try:
            call(file)
            peaks[name] = tracemalloc.get_traced_memory()[1] / 1024 / 1024
        finally:
            tracemalloc.stop()
    return peaks


def run() -> dict[str, float]:
    with emulator("--quiet") as upstream, portal(upstream) as site:
        uid = _device_uid(upstream)
        port = int(site.rsplit(":", 1)[1])
        browser = signed_in(site)
        page = browser.get(f"{site}/devices/{uid}/firmware/", timeout=10).text
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        direct = requests.Session()
        headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
        counter = iter(range(10_000))

        def through_portal(size: int = MB4) -> None:
            data = samples.sized(size, salt=f"portal-{next(counter)}")
            response = browser.post(
                f"{site}/devices/{uid}/firmware/upload/",
                data={"name": "bench", "csrfmiddlewaretoken": csrf, "form_key": form_key()},
                files={"file": ("bench.bin", data, "application/octet-stream")},
                headers={"HX-Request": "true", "X-CSRFToken": csrf, "Referer": site},
                timeout=60,
            )
            assert response.status_code == 200 and "Uploaded." in response.text, response.text

        def to_emulator() -> None:
            data = samples.sized(MB4, salt=f"direct-{next(counter)}")
            response = direct.post(
                f"{upstream}/v1/user/devices/{uid}/firmwares",
                headers=headers,
                data={"name": "bench"},
                files={"file": ("bench.bin", data, "application/octet-stream")},
                timeout=60,
            )
            assert response.status_code == 201, response.text

        # Memory first, on workers that have never held a 4 MB buffer.
        for _ in range(8):
            through_portal(20_000)
        workers = _workers(port)
        before = {pid: _kb(pid, "VmRSS") for pid in workers}
        for pid in workers:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        through_portal()
        rise_kb = max(_kb(pid, "VmHWM") - before[pid] for pid in workers)
        rss_kb = max(before.values())

        direct_ms, portal_ms = [], []
        for _ in range(RUNS // 2):
            direct_ms += timings(to_emulator, 2, warmup=0)
            portal_ms += timings(through_portal, 2, warmup=0)
        peaks = _in_process_peaks(upstream, uid)
    return {
        "direct_p50": p(direct_ms, 50),
        "portal_p50": p(portal_ms, 50),
        "direct_max": max(direct_ms),
        "portal_max": max(portal_ms),
        "worker_rss_mb": rss_kb / 1024,
        "worker_rise_mb": rise_kb / 1024,
        "trace_stream_mb": peaks["stream"],
        "trace_requests_mb": peaks["requests"],
    }


def report(result: dict[str, float]) -> str:
    mb = MB4 / 1024 / 1024
    return "\n".join(
        [
            f"### Firmware upload, 4 MB ({RUNS} uploads each way, interleaved)",
            "",
            "| | p50 (ms) | max (ms) |",
            "|---|---|---|",
            f"| direct `POST …/firmwares` to the emulator | {result['direct_p50']:.0f} | "
            f"{result['direct_max']:.0f} |",
            f"| through the portal (checks, streamed upload, md5, list refresh) | "
            f"{result['portal_p50']:.0f} | {result['portal_max']:.0f} |",
            f"| ratio | **{result['portal_p50'] / result['direct_p50']:.2f}×** | |",
            "",
            "| memory | MB | copies of the file |",
            "|---|---|---|",
            f"| gunicorn worker RSS before the upload | {result['worker_rss_mb']:.1f} | |",
            f"| worker peak RSS rise during one 4 MB upload (VmHWM) | "
            f"{result['worker_rise_mb']:.1f} | {result['worker_rise_mb'] / mb:.2f} |",
            f"| tracemalloc peak, `IoTClient.upload_firmware` (streamed) | "
            f"{result['trace_stream_mb']:.2f} | {result['trace_stream_mb'] / mb:.2f} |",
            f"| tracemalloc peak, requests' own multipart encoder (for comparison) | "
            f"{result['trace_requests_mb']:.2f} | {result['trace_requests_mb'] / mb:.2f} |",
        ]
    )
