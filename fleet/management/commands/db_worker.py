"""`manage.py db_worker`: django-tasks-db's worker, which also keeps fleet work whole.

Beside running tasks, it says every few seconds that it is alive (fleet.models.Worker) and
settles what dead workers left (fleet.engine.revive): their calls in flight become "outcome
unknown", and their jobs go back in the queue. Its worker id is its fleet id, so a task left
running by a killed worker is known as such.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django_tasks_db.management.commands.db_worker import Command as BaseWorker
from django_tasks_db.management.commands.db_worker import Worker as TaskWorker

from fleet import engine, rollout_engine

logger = logging.getLogger("portal.fleet")


def keep_alive(stop: threading.Event) -> None:
    every = max(1.0, settings.PORTAL_FLEET_WORKER_TIMEOUT / 5)
    while not stop.is_set():
        try:
            close_old_connections()
            engine.alive()
            settled = engine.revive()
            if settled:
                logger.warning("%s calls left in flight by a dead worker are now unknown", settled)
            steps = rollout_engine.revive()
            if steps:
                logger.warning(
                    "%s rollout steps left in flight by a dead worker are unknown", steps
                )
        except Exception:  # a database hiccup must not end the worker: the next round retries
            logger.exception("fleet keep-alive failed")
        finally:
            connection.close()
        stop.wait(every)


_task_shutdown = TaskWorker.shutdown


def _shutdown(self: TaskWorker, signum: int, frame: Any) -> None:
    """A stop asked for (SIGTERM, Ctrl+C): a rollout being advanced stops between two steps
    and goes back in the queue (fleet/rollout_engine.py), so the worker exits promptly."""
    rollout_engine.STOPPING.set()
    _task_shutdown(self, signum, frame)


class Command(BaseWorker):
    help = "Run background tasks (fleet work), and settle what dead workers left"

    def handle(self, *args: Any, **options: Any) -> None:
        options["worker_id"] = engine.worker_id()
        if options.get("reload"):
            options["reload"] = False  # a reload would stop a task mid-call
        TaskWorker.shutdown = _shutdown  # type: ignore[method-assign]
        stop = threading.Event()
        threading.Thread(target=keep_alive, args=(stop,), daemon=True, name="fleet-alive").start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()
