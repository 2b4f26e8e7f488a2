"""Health probes for the image's HEALTHCHECK, load balancers and monitoring.

- `/healthz`: the process answers and the database is reachable. The HEALTHCHECK and the
  proxy's health checks use it: an instance that fails it should get no traffic.
- `/readyz`: also the cache and the upstream API, with the time the upstream took to answer,
  and the background queue: how many workers are alive and how long the oldest task not yet
  taken by a worker has waited. For monitoring and dashboards: the upstream being down is not
  a reason to restart anything. No worker running does not fail readiness (the portal's pages
  work without one; queued work waits): the body says so, for monitoring to alert on.

Both answer without a sign-in, cost a few queries, and say nothing about the configuration
(no addresses, no versions): `{"status": "ok", "checks": {...}}`, or HTTP 503 when a check
fails. `HealthProbeMiddleware` answers them ahead of the rest of the stack, so a probe that
comes by IP address (Docker, a load balancer) is not refused by the allowed-hosts check or
redirected to HTTPS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.core.cache import cache
from django.db import connection
from django.db.models import Case, F, When
from django.db.models.functions import Greatest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from portal.iot import UpstreamUnavailable, probe_upstream

# A probe of the upstream is shared for a few seconds: /readyz needs no sign-in, so it must
# not become a way to send the upstream as many requests as anyone likes.
UPSTREAM_PROBE_SECONDS = 5.0
_probe_lock = threading.Lock()
_last_probe: tuple[float, str, float | None] | None = None  # (when, "ok"/"unreachable", ms)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any failure at all means "not reachable"
        return "unreachable"
    return "ok"


def _cache() -> str:
    try:
        cache.set("health:probe", 1, timeout=10)
        ok = cache.get("health:probe") == 1
    except Exception:  # a Redis outage raises; report it, never a 500
        return "unreachable"
    return "ok" if ok else "unreachable"


def _upstream() -> tuple[str, float | None]:
    global _last_probe
    with _probe_lock:
        if _last_probe and time.monotonic() - _last_probe[0] < UPSTREAM_PROBE_SECONDS:
            return _last_probe[1], _last_probe[2]
        try:
            result: tuple[str, float | None] = ("ok", probe_upstream())
        except UpstreamUnavailable:
            result = ("unreachable", None)
        _last_probe = (time.monotonic(), *result)
        return result


def oldest_waiting() -> timedelta | None:
    """How long the oldest task not yet taken by a worker has waited (None: none waits).

    The queue is the core's (settings.TASKS: django-tasks-db, the database as the queue), so
    the core reads it; apps that run work on it (fleet/) ask here.
    """
    from django_tasks_db.models import DBTaskResult, get_date_max

    # A task without a run_after carries the largest date there is; one with a run_after
    # waits from then, not from when it was queued.
    since = Case(
        When(run_after=get_date_max(), then=F("enqueued_at")),
        default=Greatest(F("enqueued_at"), F("run_after")),
    )
    first = (
        DBTaskResult.objects.ready()
        .annotate(waiting_since=since)
        .order_by("waiting_since")
        .values_list("waiting_since", flat=True)
        .first()
    )
    return None if first is None else max(timedelta(0), timezone.now() - first)


# How many workers are alive comes from the app whose worker says it is alive (fleet/apps.py
# registers fleet.health.workers_alive), so the core depends on no app.
_count_workers: Callable[[], int] | None = None


def count_workers_with(counter: Callable[[], int] | None) -> None:
    """Set what counts the live workers for /readyz (None: nothing counts them)."""
    global _count_workers
    _count_workers = counter


NO_WORKER = (
    "no worker is running: queued work waits until one starts (readiness does not depend on it)"
)


def _queue_unknown() -> dict[str, object]:
    return {"workers_alive": None, "oldest_waiting_seconds": None}


def _queue() -> dict[str, object]:
    """The queue's figures for /readyz; informative only, never a failed check."""
    try:
        waiting = oldest_waiting()
        workers = _count_workers() if _count_workers is not None else None
    except Exception:  # the database check reports the outage; here, no figures
        return _queue_unknown()
    queue: dict[str, object] = {
        "workers_alive": workers,
        "oldest_waiting_seconds": None if waiting is None else round(waiting.total_seconds(), 1),
    }
    if workers == 0:
        queue["note"] = NO_WORKER
    return queue


def forget_upstream_probe() -> None:
    """Drop the shared upstream probe result (tests)."""
    global _last_probe
    with _probe_lock:
        _last_probe = None


def _answer(checks: dict[str, str], **extra: object) -> JsonResponse:
    healthy = all(value == "ok" for value in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks, **extra}
    response = JsonResponse(body, status=200 if healthy else 503)
    # The body says what failed; Django's "Service Unavailable" error line on every probe
    # while the upstream is down would only bury the real errors.
    response._has_been_logged = True
    return response


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    return _answer({"database": _database()})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    upstream, upstream_ms = _upstream()
    checks = {"database": _database(), "cache": _cache(), "upstream": upstream}
    # The queue is in the database: when that is down, no second wait for it.
    queue = _queue() if checks["database"] == "ok" else _queue_unknown()
    return _answer(checks, upstream_ms=upstream_ms, queue=queue)


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz,
    "/healthz/": healthz,
    "/readyz": readyz,
    "/readyz/": readyz,
}


class HealthProbeMiddleware:
    """Answers the probes before host checks, HTTPS redirects, sessions and request logs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)
