"""`make demo`'s runner: it starts the emulator and the portal, and stops both when told."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_sigterm_stops_the_portal_and_the_emulator_promptly(tmp_path):
    port, emulator_port = _free_port(), _free_port()
    env = {**os.environ, "PORTAL_DATA_DIR": str(tmp_path), "DJANGO_DEBUG": "true"}
    env.pop("DATABASE_URL", None)
    demo = subprocess.Popen(
        [sys.executable, "bin/demo.py", "--port", str(port), "--emulator-port", str(emulator_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: a failed test can end all of it
    )
    portal = f"http://127.0.0.1:{port}/login/"
    emulator = f"http://127.0.0.1:{emulator_port}/_emulator/health"
    try:
        deadline = time.monotonic() + 60
        while not _answers(portal):
            assert demo.poll() is None and time.monotonic() < deadline, "the demo did not start"
            time.sleep(0.2)
        assert _answers(emulator)
        demo.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert demo.wait(timeout=15) == 0
        assert time.monotonic() - started < 5
        assert not _answers(portal) and not _answers(emulator)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(demo.pid, signal.SIGKILL)  # whatever of the group is left
        demo.wait()
