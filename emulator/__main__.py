"""``python -m emulator``: run the vendor API emulator until SIGINT or SIGTERM.

The first stdout line is ``Emulator running on <url>`` (the URL is its last word), printed once
the port is bound, so a parent process can read it even with ``--port 0``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from emulator.app import FAULT_KINDS
from emulator.server import Emulator


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return number


def _non_negative_float(value: str) -> float:
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not 0 < number < float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="Emulator of the vendor's IoT device cloud API (/v1/user/devices...).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port; 0 picks a free one")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (the emulator has no real security)",
    )
    parser.add_argument(
        "--token",
        action="append",
        dest="tokens",
        metavar="TOKEN",
        help="accepted bearer token, repeatable; each has its own fleet (default demo-token)",
    )
    parser.add_argument(
        "--fleet-size",
        type=int,
        metavar="N",
        help="generate N devices per token instead of the curated demo fleet",
    )
    parser.add_argument("--latency-ms", type=_non_negative_float, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reboot-seconds", type=_non_negative_float, default=5.0)
    parser.add_argument("--ota-seconds", type=_non_negative_float, default=8.0)
    parser.add_argument(
        "--time-scale",
        type=_positive_float,
        default=os.environ.get("EMULATOR_TIME_SCALE", "1"),
        metavar="N",
        help="run reboots, OTAs and drop-offs N times faster (default 1, or $EMULATOR_TIME_SCALE)",
    )
    parser.add_argument(
        "--page-size", type=_positive_int, help="paginate the device list (?page=N)"
    )
    parser.add_argument(
        "--fault", choices=FAULT_KINDS, help="start with this fault on every API request"
    )
    parser.add_argument(
        "--throttle",
        type=_positive_int,
        metavar="N",
        help="at most N API calls per token per --throttle-window, then 429 with Retry-After",
    )
    parser.add_argument(
        "--throttle-window",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="the throttle's window (default 60)",
    )
    parser.add_argument("--quiet", action="store_true", help="no access log on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        emulator = Emulator(
            host=args.host,
            port=args.port,
            tokens=tuple(args.tokens or ("demo-token",)),
            fleet_size=args.fleet_size,
            latency_ms=args.latency_ms,
            seed=args.seed,
            reboot_seconds=args.reboot_seconds,
            ota_seconds=args.ota_seconds,
            time_scale=args.time_scale,
            page_size=args.page_size,
            allow_remote=args.allow_remote,
            access_log=not args.quiet,
            throttle=args.throttle,
            throttle_window=args.throttle_window,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.fault:
        emulator.set_fault(args.fault)

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    try:
        emulator.start()
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Emulator running on {emulator.url}", flush=True)
    try:
        # Wake up regularly so the signal handler runs promptly on every platform.
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
