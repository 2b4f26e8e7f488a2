"""Process plumbing for the benchmarks: an emulator and a gunicorn portal on loopback."""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0000"
PASSWORD = "bench-password-0000"


SECRET_KEY = "bench-secret-key-" + "x" * 40


def form_key() -> str:
    """A fresh one-time form key for the benchmark's portal (portal.form_keys), as a form
    the portal draws carries one: every write a benchmark posts is a first submission."""
    from portal import form_keys

    return form_keys.new(SECRET_KEY)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def emulator(*args: str) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", str(port), "--token", TOKEN, "--quiet", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/_emulator/health")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def portal(upstream: str, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """A gunicorn portal on a fresh SQLite database, with one admin user on the bench token."""
    with portal_process(upstream, extra_env) as (url, _):
        yield url


@contextmanager
def portal_process(
    upstream: str, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`portal()`, and the gunicorn master's process (whose children are the workers)."""
    with portal_site(upstream, extra_env) as (url, proc, _):
        yield url, proc


@contextmanager
def portal_site(
    upstream: str, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen, dict[str, str]]]:
    """`portal_process()`, and the environment it runs in (for `manage.py` beside it)."""
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "PORTAL_DATA_DIR": data_dir,
            "IOT_API_BASE_URL": upstream,
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "PORTAL_TOKEN_KEYS": "ZmRlYmVuY2gta2V5LWJlbmNoLWtleS1iZW5jaC1rZXk=",
            "PORTAL_SECURE_COOKIES": "false",
            "PORTAL_BEHIND_TLS_PROXY": "false",
            "PORTAL_HSTS_SECONDS": "0",
            "PORTAL_SSL_REDIRECT": "false",
            "PORTAL_LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [*manage, "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
        )
        subprocess.run(
            [*manage, "portal_user", "bench", "--role", "admin", "--token-label", "Bench",
             "--token-stdin"],
            cwd=ROOT, env=env, input=f"{TOKEN}\n", text=True, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        subprocess.run(
            [*manage, "portal_user", "bench", "--password-stdin"],
            cwd=ROOT, env=env, input=f"{PASSWORD}\n", text=True, check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "2", "--threads", "4", "--worker-class", "gthread"],
            cwd=ROOT, env=env, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{url}/login/")
            yield url, proc, env
        finally:
            proc.terminate()
            proc.wait(10)


def signed_in(portal_url: str, username: str = "bench") -> requests.Session:
    session = requests.Session()
    page = session.get(f"{portal_url}/login/", timeout=10).text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = session.post(
        f"{portal_url}/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{portal_url}/login/"},
        timeout=10,
    )
    response.raise_for_status()
    if "/login/" in response.url:
        raise RuntimeError("the benchmark user could not sign in")
    return session


def timings(call, runs: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds spent so far by the whole machine (busy, not idle) and by this process with
    its descendants (the emulator, portal and worker a benchmark started). Over a span, the
    first's growth less the second's is the other work the machine did meanwhile: on a shared
    machine, what a ratio of two spans must be read against. Linux (/proc); (0, 0) elsewhere."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        with open("/proc/stat") as stat:
            # cpu user nice system idle iowait irq softirq steal ...
            fields = [int(v) for v in stat.readline().split()[1:9]]
    except OSError:
        return 0.0, 0.0
    busy = sum(fields) - fields[3] - fields[4]
    parents: dict[int, int] = {}
    used: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                rest = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        parents[int(name)] = int(rest[1])
        # utime + stime (every thread) + cutime + cstime: a descendant that ended (a gunicorn
        # worker replaced after its max_requests) stays counted, in the parent that reaped it.
        used[int(name)] = sum(int(v) for v in rest[11:15])
    ours = {os.getpid()}
    while more := {pid for pid, ppid in parents.items() if ppid in ours} - ours:
        ours |= more
    return busy / tick, sum(used.get(pid, 0) for pid in ours) / tick


class OtherWork:
    """The cores other work kept busy, on average over the spans timed with `span()`."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.other = 0.0

    @contextmanager
    def span(self) -> Iterator[None]:
        started, before = time.monotonic(), cpu_seconds()
        try:
            yield
        finally:
            after = cpu_seconds()
            self.seconds += time.monotonic() - started
            self.other += (after[0] - before[0]) - (after[1] - before[1])

    @property
    def cores(self) -> float:
        return max(0.0, self.other / self.seconds) if self.seconds > 0 else 0.0
