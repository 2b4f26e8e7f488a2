"""Whether fleet work has a worker: what the pages and /readyz say about the queue."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from fleet.models import Worker


def workers_alive() -> int:
    """Workers that said they were alive within PORTAL_FLEET_WORKER_TIMEOUT."""
    since = timezone.now() - timedelta(seconds=settings.PORTAL_FLEET_WORKER_TIMEOUT)
    return Worker.objects.filter(seen_at__gte=since).count()


def oldest_waiting() -> timedelta | None:
    """How long the oldest task not yet taken by a worker has waited (None: none waits)."""
    from django_tasks_db.models import DBTaskResult

    first = (
        DBTaskResult.objects.filter(status="READY", run_after__lte=timezone.now())
        .order_by("enqueued_at")
        .values_list("enqueued_at", flat=True)
        .first()
    )
    return None if first is None else timezone.now() - first
