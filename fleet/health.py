"""Whether fleet work has a worker: what the pages and /readyz say about the queue."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from fleet.models import Worker
from portal.health import oldest_waiting

__all__ = ["oldest_waiting", "workers_alive"]


def workers_alive() -> int:
    """Workers that said they were alive within PORTAL_FLEET_WORKER_TIMEOUT."""
    since = timezone.now() - timedelta(seconds=settings.PORTAL_FLEET_WORKER_TIMEOUT)
    return Worker.objects.filter(seen_at__gte=since).count()
