"""The read pool (portal.iot.parallel): reads started ahead, never slower than reading in turn."""

from __future__ import annotations

import threading
from contextvars import ContextVar

import pytest
from django.conf import settings

from portal.iot import parallel

marker: ContextVar[str] = ContextVar("marker", default="none")


@pytest.fixture
def busy_pool():
    """Every pool thread held until the test ends."""
    release = threading.Event()
    started = threading.Barrier(settings.PORTAL_READ_THREADS + 1)

    def hold() -> None:
        started.wait(5)
        release.wait(5)

    held = [parallel.start(hold) for _ in range(settings.PORTAL_READ_THREADS)]
    started.wait(5)
    yield
    release.set()
    for pending in held:
        pending.result()


def test_a_read_runs_on_another_thread_in_a_copy_of_the_callers_context():
    marker.set("the request")
    pending = parallel.start(lambda: (threading.current_thread(), marker.get()))
    assert pending.within(5)  # made by the pool (not taken back by an early result())
    thread, seen = pending.result()
    assert thread is not threading.current_thread() and seen == "the request"


def test_a_read_raises_its_error_where_it_is_collected():
    def fail() -> None:
        raise ValueError("upstream said no")

    pending = parallel.start(fail)
    assert pending.within(5)
    with pytest.raises(ValueError, match="upstream said no"):
        pending.result()


def test_a_read_the_busy_pool_has_not_started_is_made_by_the_caller(busy_pool):
    pending = parallel.start(threading.current_thread)
    assert not pending.within(0.05)
    assert pending.result() is threading.current_thread()


def test_a_read_given_up_before_it_started_is_never_made(busy_pool):
    calls = []
    pending = parallel.start(calls.append, "made")
    pending.cancel()
    assert not pending.within(0)
    assert calls == []
