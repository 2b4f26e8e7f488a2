"""Upstream reads started ahead, on a small pool of threads, so one page's reads overlap.

A device's page needs several reads (the detail, the buttons, the firmware list); made one
after the other they cost one upstream round trip each. `start()` hands a read to a bounded
pool (`PORTAL_READ_THREADS` per process) and returns a `Pending` at once; the request thread
goes on with its own read and collects the others when it needs them.

Rules that keep this safe:

- Each read keeps its own deadline: the transport's total deadline (`IOT_API_TIMEOUT`) runs
  inside the read wherever it runs; `Pending.within()` only bounds how long a page waits.
- A read that has not started when it is needed is taken back and run in the caller's thread
  (`Pending.result()`), so a busy pool never makes a page slower than reading in turn, and a
  page that gives up on a read cancels it if it has not started (no upstream call wasted).
- A read runs in a copy of the caller's context, so its log lines carry the request's id.
- Reads given to the pool must not touch the database: pytest's transactions and the
  request's connection are the request thread's. A cached read (whose generation may live
  in the database) has its key worked out in the request thread first
  (`IoTClient.device_read`); any connection a pool thread opens anyway is closed after its
  read.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from django.conf import settings
from django.db import connections

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None


def _executor() -> ThreadPoolExecutor:
    """The process's pool, made at first use (after gunicorn's fork, never before it)."""
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(
                max_workers=settings.PORTAL_READ_THREADS, thread_name_prefix="iot-read"
            )
            _pool_pid = os.getpid()
        return _pool


def _run[T](call: Callable[[], T]) -> T:
    try:
        return call()
    finally:
        connections.close_all()


class Pending[T]:
    """One read started ahead: its result (or its IoTError) when the caller needs it."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._call = call
        context = contextvars.copy_context()
        self._future: Future[T] = _executor().submit(context.run, _run, call)

    def within(self, seconds: float) -> bool:
        """Whether the read has finished (answer or error) within `seconds` from now."""
        try:
            self._future.exception(timeout=max(seconds, 0))
        except (FutureTimeout, CancelledError):
            return False
        return True

    def cancel(self) -> None:
        """Give the read up: it is not made if it has not started (a started one finishes)."""
        self._future.cancel()

    def result(self) -> T:
        """The read's answer, raising what it raised; run here if the pool had not started it."""
        if self._future.cancel():
            return self._call()
        return self._future.result()


def start[T](call: Callable[..., T], *args: Any) -> Pending[T]:
    """Start `call(*args)` on the read pool; see the module's rules for what may go there."""
    return Pending(lambda: call(*args))
