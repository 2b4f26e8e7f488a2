#!/usr/bin/env python3
"""The image's HEALTHCHECK: exit 0 when this container is healthy, else 1.

- The portal (the image's default command): this instance's /healthz answers 200. Python's
  standard library only (the image has no curl); it asks the port gunicorn binds
  (PORTAL_BIND, default 0.0.0.0:8000) on loopback.
- A worker (`python manage.py db_worker ...`, or `--worker`): a fleet worker on this host
  said it was alive within PORTAL_FLEET_WORKER_TIMEOUT (its keep-alive writes that to the
  database every few seconds, fleet/models.Worker). The container's main process tells which
  one runs, so `docker run ... iot-portal python manage.py db_worker --queue-name '*'` gets
  the right check without an argument.
"""

import os
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def portal_healthy() -> int:
    bind = os.environ.get("PORTAL_BIND", "0.0.0.0:8000")
    port = bind.rsplit(":", 1)[-1] if ":" in bind else "8000"
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as error:
        print(f"healthcheck: {error}", file=sys.stderr)
        return 1


def worker_alive_here() -> bool:
    """Whether a worker on this host said it was alive recently (Django set up)."""
    import socket
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from fleet.models import Worker

    since = timezone.now() - timedelta(seconds=settings.PORTAL_FLEET_WORKER_TIMEOUT)
    host = socket.gethostname()[:255]
    return Worker.objects.filter(host=host, seen_at__gte=since).exists()


def worker_healthy() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    try:
        import django

        django.setup()
        if worker_alive_here():
            return 0
        print("healthcheck: no worker on this host said it was alive", file=sys.stderr)
    except Exception as error:  # the database unreachable, a broken setting: unhealthy
        print(f"healthcheck: {type(error).__name__}: {error}", file=sys.stderr)
    return 1


def main_process_is_a_worker(cmdline: Path = Path("/proc/1/cmdline")) -> bool:
    """Whether the container's main process (PID 1) runs `manage.py db_worker`."""
    try:
        arguments = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return b"db_worker" in arguments


def main(argv: list[str]) -> int:
    if "--worker" in argv or main_process_is_a_worker():
        return worker_healthy()
    return portal_healthy()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
