"""`make bench`: run every benchmark and print a Markdown report for docs/PERFORMANCE.md."""

from __future__ import annotations

import platform
import sys
from datetime import UTC, datetime

from bench import (
    device_list,
    device_page,
    firmware_upload,
    rollout,
    shared_token,
    sign_in,
    worker_restart,
)

BENCHMARKS = {
    "device_list": device_list,
    "device_page": device_page,
    "shared_token": shared_token,
    "firmware_upload": firmware_upload,
    "sign_in": sign_in,
    "worker_restart": worker_restart,
    "rollout": rollout,
}


def main(names: list[str]) -> None:
    chosen = names or list(BENCHMARKS)
    print(f"_Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `make bench` on "
          f"{platform.machine()}, Python {platform.python_version()}._\n")  # fmt: skip
    for name in chosen:
        module = BENCHMARKS[name]
        print(module.report(module.run()), end="\n\n", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
