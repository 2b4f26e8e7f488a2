"""`make demo`'s runner: it starts the emulator, a fleet worker and the portal, and stops them
all when told."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest
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


# Run in the demo's database (manage.py shell): a reboot job over the first demo device, done
# by the demo's worker, never by this script. Prints the item's final state.
A_JOB_IN_THE_DEMO = """
import time
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from fleet import jobs
from fleet.models import JobItem
from portal.models import ApiToken
from portal.outcomes import Actor

devices = requests.get(
    settings.IOT_API_BASE_URL + "/v1/user/devices",
    headers={"Authorization": "Bearer demo-token"},
    timeout=5,
).json()
device = (devices.get("data") if isinstance(devices, dict) else devices)[0]
admin = get_user_model().objects.get(username="admin")
token = ApiToken.objects.get(label="Demo fleet")
outcome = jobs.create(Actor(user=admin, ip="127.0.0.1"), token, "reboot",
                      [(device["uid"], device["uid"], True)], offline="try")
deadline = time.monotonic() + 30
item = JobItem.objects.get(job__token=token)
while item.state in ("waiting", "sending") and time.monotonic() < deadline:
    time.sleep(0.2)
    item.refresh_from_db()
print("STATE", item.state)
"""


def _workers_in(database: Path) -> list[int]:
    if not database.exists():
        return []
    with suppress(sqlite3.Error), sqlite3.connect(database) as connection:
        return [pid for (pid,) in connection.execute("SELECT pid FROM fleet_worker")]
    return []


def test_sigterm_stops_the_portal_the_worker_and_the_emulator_promptly(tmp_path):
    port, emulator_port = _free_port(), _free_port()
    env = {**os.environ, "PORTAL_DATA_DIR": str(tmp_path), "DJANGO_DEBUG": "true"}
    env.pop("DATABASE_URL", None)
    database = tmp_path / "portal.sqlite3"
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
        # Mostly migrate and five password hashes: on a busy machine it takes a while.
        deadline = time.monotonic() + 120
        while not _answers(portal):
            assert demo.poll() is None and time.monotonic() < deadline, "the demo did not start"
            time.sleep(0.2)
        assert _answers(emulator)
        deadline = time.monotonic() + 30
        while not _workers_in(database):
            assert time.monotonic() < deadline, "the demo's worker never said it was alive"
            time.sleep(0.2)
        # A job made in the demo's database is done by the demo's worker.
        job = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", A_JOB_IN_THE_DEMO],
            cwd=ROOT,
            env={**env, "IOT_API_BASE_URL": f"http://127.0.0.1:{emulator_port}"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "STATE sent" in job.stdout, job.stdout + job.stderr
        (worker,) = _workers_in(database)
        demo.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert demo.wait(timeout=15) == 0
        assert time.monotonic() - started < 5
        assert not _answers(portal) and not _answers(emulator)
        with pytest.raises(ProcessLookupError):
            os.kill(worker, 0)  # the worker is gone too
    finally:
        with suppress(ProcessLookupError):
            os.killpg(demo.pid, signal.SIGKILL)  # whatever of the group is left
        for pid in _workers_in(database):  # the worker runs in its own process group
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        demo.wait()
