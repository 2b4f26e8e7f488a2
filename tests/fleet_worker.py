"""The fleet worker as a real process in tests: `manage.py db_worker` on the test database.

`fleet_worker` (function scope, needs the database committed: it uses `transactional_db`)
starts one worker, `manage.py db_worker --queue-name '*' --interval 0.1 --no-startup-delay`,
on the test database (SQLite's test database is a file, see portal/settings.py), talking to the
session's emulator, and yields a `FleetWorker`:

- `.kill()`: SIGKILL every worker process it started (nothing is cleaned up: the point);
- `.stop()`: SIGTERM and wait (django-tasks-db finishes the task it runs, then exits);
- `.start(**env)`: start one more worker process, with extra environment variables;
- `.env`: the environment every new process gets (a dict: change it before `.start()`);
- `.log()`: what the processes wrote (shown when a test fails).

A worker is taken for dead after PORTAL_FLEET_WORKER_TIMEOUT, 6 s here (a live worker on a
loaded test machine must not look dead); its calls in flight then become "outcome unknown".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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
    if "postgresql" in engine:
        user = settings_dict.get("USER") or ""
        password = settings_dict.get("PASSWORD") or ""
        auth = f"{user}:{password}@" if password else f"{user}@" if user else ""
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or 5432
        return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"
    raise RuntimeError(f"no worker for database engine {engine}")


def worker_env(upstream: str, database: str, **extra: str) -> dict[str, str]:
    """The environment of a worker on `database` talking to `upstream`, with the test
    process's keys (it reads the tokens the tests stored)."""
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
        "IOT_API_TIMEOUT": "2",
        "IOT_API_CONNECT_TIMEOUT": "1",
        "IOT_API_READ_RETRIES": "0",
        "PORTAL_READ_CACHE_SECONDS": "0",
        "PORTAL_FLEET_WORKER_TIMEOUT": "6",
        "PORTAL_CALLS_PER_MINUTE": "0",  # no budget unless a test sets one
        "PORTAL_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class FleetWorker:
    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []
        self._logs: list[Path] = []

    def start(self, **env: str) -> subprocess.Popen:
        log = self.log_dir / f"worker-{len(self._logs) + 1}.log"
        self._logs.append(log)
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

    @property
    def running(self) -> list[subprocess.Popen]:
        return [p for p in self.processes if p.poll() is None]

    def kill(self) -> None:
        """SIGKILL: the worker gets no chance to tidy anything."""
        for process in self.running:
            process.send_signal(signal.SIGKILL)
        for process in self.processes:
            process.wait(10)

    def stop(self, timeout: float = 20) -> None:
        for process in self.running:
            process.terminate()
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def log(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')}"
            for path in self._logs
            if path.exists()
        )


@pytest.fixture
def fleet_worker(transactional_db, emulator, tmp_path, request) -> Iterator[FleetWorker]:
    """One real worker process on the test database (see the module's docstring)."""
    from django.db import connection

    worker = FleetWorker(worker_env(emulator.url, database_url(connection.settings_dict)), tmp_path)
    worker.start()
    try:
        yield worker
    finally:
        worker.kill()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(worker.log())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
