"""Process plumbing for the multi-instance suite: fresh databases and gunicorn instances.

The shape is docker-compose.yml's, with processes instead of containers: N gunicorn instances
of the portal (the image's gunicorn.conf.py, production settings) on loopback ports and a fleet
worker (compose's `worker`: `manage.py db_worker --queue-name '*'`), over one database and one
cache, all talking to the emulator.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_VARIABLE = "PORTAL_TEST_POSTGRES_URL"
REDIS_VARIABLE = "PORTAL_TEST_REDIS_URL"
SECRET_KEY = "multi-instance-test-secret-" + "k" * 40
TOKEN_KEY = "bXVsdGktaW5zdGFuY2UtdGVzdC1rZXktMDAwMDAwMDA="
PASSWORD = "multi-instance-password-0001"
# Every variable the portal reads is set here or removed, so the developer's shell can't leak in.
_OWN_PREFIXES = ("DJANGO_", "PORTAL_", "IOT_API_", "DATABASE_", "REDIS_", "FORWARDED_ALLOW_IPS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout + result.stderr


def base_env(data_dir: Path, upstream: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    return {
        **clean,
        "DJANGO_SETTINGS_MODULE": "tests.multi.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "PORTAL_TOKEN_KEYS": TOKEN_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Plain HTTP on loopback: no TLS proxy in front here (the proxy is what docs/deploy.md
        # puts in front); test_hardening.py proves the production defaults.
        "PORTAL_SECURE_COOKIES": "false",
        "PORTAL_BEHIND_TLS_PROXY": "false",
        "PORTAL_SSL_REDIRECT": "false",
        "PORTAL_HSTS_SECONDS": "0",
        "PORTAL_DATA_DIR": str(data_dir),
        "IOT_API_BASE_URL": upstream,
        "IOT_API_TIMEOUT": "5",
        "IOT_API_READ_RETRIES": "0",
        "PORTAL_READ_CACHE_SECONDS": "2",
        "PORTAL_LOG_LEVEL": "INFO",
    }


# --- Databases ----------------------------------------------------------------------------


@contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database next to the one `admin_url` names; dropped after."""
    import psycopg

    name = f"portal_multi_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin_url)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_prefix(url: str) -> Iterator[str]:
    """A key prefix of our own in the Redis at `url`; its keys are deleted after."""
    import redis

    prefix = f"portal-multi-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(url)
    client.ping()
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def query(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    if database_url.startswith("sqlite"):
        path = urlsplit(database_url).path
        with sqlite3.connect(path[1:] if path.startswith("//") else path) as conn:
            return conn.execute(sql).fetchall()
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute(sql).fetchall()


# --- Instances ----------------------------------------------------------------------------


@dataclass
class Deployment:
    """Running portal instances sharing one database and one cache."""

    name: str
    urls: list[str]
    database_url: str
    caches: int  # read caches that are not shared: 1 with Redis, one per worker with LocMem
    env: dict[str, str]
    migrate_output: str = ""
    logs: list[Path] = field(default_factory=list)
    worker_log: Path | None = None

    def instance(self, i: int) -> str:
        """Instance i, round robin: with one instance, every index is that one."""
        return self.urls[i % len(self.urls)]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return query(self.database_url, sql)

    def log_entries(self) -> list[dict[str, Any]]:
        entries = []
        for path in self.logs:
            for line in path.read_text().splitlines():
                if line.strip():
                    entries.append(json.loads(line))
        return entries


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become healthy:\n{log.read_text()}")


@contextmanager
def instances(env: dict[str, str], count: int, workers: int, log_dir: Path) -> Iterator[list]:
    """`count` gunicorn instances with the image's gunicorn.conf.py; yields (url, log) pairs."""
    started: list[tuple[subprocess.Popen, str, Path]] = []
    try:
        for n in range(count):
            port = free_port()
            log = log_dir / f"instance-{n + 1}.log"
            proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"],
                cwd=ROOT,
                env={
                    **env,
                    "PORTAL_BIND": f"127.0.0.1:{port}",
                    "PORTAL_WORKERS": str(workers),
                    "PORTAL_THREADS": "8",
                },
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
            started.append((proc, f"http://127.0.0.1:{port}", log))
        for proc, url, log in started:
            wait_healthy(url, proc, log)
        yield [(url, log) for _, url, log in started]
    finally:
        for proc, _, _ in started:
            proc.terminate()
        for proc, _, _ in started:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Compose's `worker` service as a process: fleet's db_worker on every queue."""
    command = [sys.executable, "manage.py", "db_worker", "--queue-name", "*", "--interval", "0.2"]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        # Started once it says it is alive (its keep-alive's Worker row).
        while not query(env["DATABASE_URL"], "SELECT id FROM fleet_worker"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()  # SIGTERM: its graceful stop
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- HTTP helpers -------------------------------------------------------------------------


def csrf_from(session: requests.Session, url: str) -> str:
    page = session.get(f"{url}/login/", timeout=10).text
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def post_login(
    session: requests.Session, url: str, username: str, password: str, csrf: str | None = None
) -> requests.Response:
    """Post the sign-in form to `url` (the CSRF token may come from another instance)."""
    token = csrf or csrf_from(session, url)
    return session.post(
        f"{url}/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{url}/login/"},
        allow_redirects=False,
        timeout=15,
    )


def is_signed_in(session: requests.Session, url: str) -> bool:
    response = session.get(f"{url}/devices/", allow_redirects=False, timeout=15)
    return response.status_code == 200
