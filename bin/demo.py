#!/usr/bin/env python
"""`make demo`: the portal against the built-in emulator, with a demo fleet and demo users.

Starts the emulator, migrates the local database, creates one user per role mapped to the
demo token, and runs a fleet worker (`manage.py db_worker`: bulk actions run there) and the
portal. Ctrl-C stops everything this script started; the worker first finishes the call it is
making. A second run reuses the database and users of the first.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_TOKEN = "demo-token"  # the emulator's demo token: it opens nothing but the emulator
ROLES = ("viewer", "operator", "maintainer", "admin")


def wait_for(url: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"Gave up waiting for {url}.")


def _end_with_parent() -> None:
    """In the worker (Linux): a SIGTERM when the demo dies, even by SIGKILL, so no worker is
    left behind outside the demo's process group."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: stop() still ends it


def manage(*args: str, stdin: str | None = None, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, input=stdin, text=True, check=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--emulator-port", type=int, default=8001)
    options = parser.parse_args()

    emulator_url = f"http://127.0.0.1:{options.emulator_port}"
    env = {**os.environ, "IOT_API_BASE_URL": emulator_url, "PYTHONUNBUFFERED": "1"}
    children: list[subprocess.Popen] = []

    def stop() -> None:
        # The newest first, each waited for: the worker finishes its call while the emulator
        # still answers. SIGTERM is the worker's graceful stop (SIGKILL would leave the call
        # in flight "outcome unknown").
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def on_sigterm(*_: object) -> None:
        # Unwind like Ctrl-C, so `finally` stops the children once, from the main flow (a
        # handler that waited on them itself would contend with the wait it interrupted).
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "emulator", "--port", str(options.emulator_port)],
                cwd=ROOT,
                env=env,
            )
        )
        wait_for(f"{emulator_url}/_emulator/health")
        manage("migrate", "--verbosity", "0", env=env)
        # The demo token is stored like any other token: encrypted, read from stdin.
        manage("portal_user", "admin", "--role", "admin", "--token-label", "Demo fleet",
               "--token-stdin", stdin=f"{DEMO_TOKEN}\n", env=env)  # fmt: skip
        for role in ROLES:
            manage("portal_user", role, "--role", role, "--token-label", "Demo fleet",
                   "--password-stdin", stdin=f"demo-{role}\n", env=env)  # fmt: skip
        address = f"http://{options.host}:{options.port}/"
        print(f"\nThe portal is at {address}  (emulator at {emulator_url})")
        print("Sign in as any of these (user / password):")
        for role in ROLES:
            print(f"  {role:<11} / demo-{role}")
        print("Ctrl-C stops the portal, the worker and the emulator.\n")
        children.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "db_worker", "--queue-name", "*"],
                cwd=ROOT,
                env=env,
                # Its own process group: Ctrl-C in the terminal does not reach it, so it gets
                # one SIGTERM from stop() (a second signal would cut its current call short).
                process_group=0,
                preexec_fn=_end_with_parent,
            )
        )
        children.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "runserver",
                    "--noreload",
                    f"{options.host}:{options.port}",
                ],
                cwd=ROOT,
                env=env,
            )
        )
        children[-1].wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop()


if __name__ == "__main__":
    main()
