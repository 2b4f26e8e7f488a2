"""The fleet worker as a real process in tests: `manage.py db_worker` on the test database.

A minimal version for the job pages' browser tests (engine12 brings the full one, same name
and interface). `fleet_worker` (function scope; it needs the database committed, so it uses
`transactional_db`) starts `manage.py db_worker --queue-name '*' --interval 0.1
--no-startup-delay` on the test database (SQLite's is a file, see portal/settings.py), talking
to the session's emulator, and yields a `FleetWorker` with `.kill()` (SIGKILL), `.stop()`
(SIGTERM and wait) and `.start()` (one more process).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKER = ["manage.py", "db_worker", "--queue-name", "*", "--interval", "0.1", "--no-startup-delay"]
_OWN_PREFIXES = ("DJANGO_", "PORTAL_", "IOT_API_", "DATABASE_", "REDIS_")


def database_url(settings_dict: dict[str, Any]) -> str:
    """The URL of a Django database's settings (the test database's, once created)."""
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    return f"postgres://{auth}{host}:{settings_dict.get('PORT') or 5432}/{settings_dict['NAME']}"


def worker_env(upstream: str, database: str) -> dict[str, str]:
    from django.conf import settings

    clean = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    keys = [k.decode() if isinstance(k, bytes) else str(k) for k in settings.PORTAL_TOKEN_KEYS]
    return {
        **clean,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DJANGO_DEBUG": "true",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "PORTAL_TOKEN_KEYS": ",".join(keys),
        "DATABASE_URL": database,
        "DATABASE_CONN_MAX_AGE": "0",
        "IOT_API_BASE_URL": upstream,
        "IOT_API_TIMEOUT": "5",
        "IOT_API_READ_RETRIES": "0",
        "PORTAL_READ_CACHE_SECONDS": "0",
        "PORTAL_FLEET_WORKER_TIMEOUT": "2",
        "PORTAL_CALLS_PER_MINUTE": "0",
        "PYTHONUNBUFFERED": "1",
    }


class FleetWorker:
    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.processes: list[subprocess.Popen] = []

    def start(self, **env: str) -> subprocess.Popen:
        log = self.log_dir / f"worker-{len(self.processes) + 1}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, *WORKER],
                cwd=ROOT,
                env={**self.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(10)

    def stop(self, timeout: float = 20) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@pytest.fixture
def fleet_worker(transactional_db, emulator, tmp_path) -> Iterator[FleetWorker]:
    from django.db import connection

    worker = FleetWorker(worker_env(emulator.url, database_url(connection.settings_dict)), tmp_path)
    worker.start()
    try:
        yield worker
    finally:
        worker.kill()
