"""The fleet's per-token budget of upstream calls (fleet/budget.py), on the database and on
Redis: even spacing, pauses after a 429, the in-flight cap and its leases."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest

from fleet import budget

REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "")
T1, T2 = 1, 2  # set for each test by `backend`
BACKENDS = ["database"] + (["redis"] if REDIS_URL else [])


@pytest.fixture(params=BACKENDS)
def backend(request, settings, transactional_db):
    global T1, T2
    # Token ids of this test's own: parallel test processes share the one Redis.
    T1, T2 = (uuid.uuid4().int % 10**12 for _ in range(2))
    if request.param == "redis":
        settings.REDIS_URL = REDIS_URL
    else:
        settings.REDIS_URL = ""
    settings.PORTAL_CALLS_PER_MINUTE = 0
    settings.PORTAL_CALLS_RESERVED_FOR_PAGES = 0
    settings.PORTAL_BUDGET_WINDOW_SECONDS = 60
    settings.PORTAL_FLEET_MAX_IN_FLIGHT = 8
    yield request.param
    for token_id in (T1, T2):
        budget.forget(token_id)


def starts(token_id: int, count: int) -> list[float]:
    moments = []
    for _ in range(count):
        with budget.slot(token_id):
            moments.append(time.monotonic())
    return moments


def test_fleet_calls_are_spaced_evenly_at_the_budget_less_the_pages_share(backend, settings):
    settings.PORTAL_CALLS_PER_MINUTE = 12
    settings.PORTAL_CALLS_RESERVED_FOR_PAGES = 2
    settings.PORTAL_BUDGET_WINDOW_SECONDS = 1  # 10 fleet calls a second
    moments = starts(T1, 11)
    # Any 1 s holds at most 10 of them: the 11th starts a second after the first (less
    # what a loaded machine delays the first caller by after its turn).
    assert 0.9 <= moments[-1] - moments[0] < 1.0 + 0.3
    # Spaced, not a burst then a wait: any three in a row span about two intervals.
    assert min(c - a for a, c in zip(moments, moments[2:], strict=False)) >= 0.15


def test_no_budget_means_no_spacing(backend):
    moments = starts(T1, 20)
    assert moments[-1] - moments[0] < 0.5


def test_spacing_is_shared_by_every_thread(backend, settings):
    settings.PORTAL_CALLS_PER_MINUTE = 20
    settings.PORTAL_BUDGET_WINDOW_SECONDS = 1  # one call every 50 ms over all callers
    moments: list[float] = []
    lock = threading.Lock()

    def caller():
        for _ in range(3):
            with budget.slot(T1), lock:
                moments.append(time.monotonic())

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    moments.sort()
    assert len(moments) == 12
    assert moments[-1] - moments[0] >= 11 * 0.05 - 0.1  # less a loaded machine's jitter


def test_a_pause_stops_the_tokens_calls_until_it_ends_and_only_that_tokens(backend):
    budget.pause(T1, 0.6)
    assert 0.3 < budget.paused_for(T1) <= 0.6
    assert budget.paused_for(T2) == 0
    began = time.monotonic()
    with budget.slot(T2):
        assert time.monotonic() - began < 0.3
    with budget.slot(T1):
        assert time.monotonic() - began >= 0.5
    budget.pause(T1, 5)
    budget.pause(T1, 1)  # a shorter pause never shortens a longer one
    assert budget.paused_for(T1) > 4


def test_at_most_the_cap_of_calls_are_in_flight_over_every_caller(backend, settings):
    settings.PORTAL_FLEET_MAX_IN_FLIGHT = 2
    peak = 0
    current = 0
    lock = threading.Lock()

    def caller():
        nonlocal peak, current
        with budget.slot(T1):
            with lock:
                current += 1
                peak = max(peak, current)
            assert budget.in_flight(T1) <= 2
            time.sleep(0.15)
            with lock:
                current -= 1

    threads = [threading.Thread(target=caller) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 2
    assert budget.in_flight(T1) == 0


def test_a_place_held_by_a_killed_worker_comes_back_when_its_lease_runs_out(backend, settings):
    settings.PORTAL_FLEET_MAX_IN_FLIGHT = 1
    store = budget._store()
    assert store.acquire(T1, "killed-worker-lease", 1, 0.4, 0)[0]  # never released
    assert budget.in_flight(T1) == 1
    began = time.monotonic()
    with budget.slot(T1):
        assert time.monotonic() - began >= 0.3
    assert budget.in_flight(T1) == 0


def test_the_key_is_the_tokens_pk_never_the_token(backend, token_a):
    from fleet.models import Budget

    budget.pause(token_a.pk, 1)
    if backend == "database":
        assert list(Budget.objects.values_list("token_id", flat=True)) == [token_a.pk]
    else:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        keys = [k.decode() for k in client.scan_iter("*fleet-budget*")]
        assert f"portal:fleet-budget:{token_a.pk}:paused" in keys
        assert not any(token_a.value() in k for k in keys)
    budget.forget(token_a.pk)


def test_a_dead_workers_places_in_flight_come_back_when_it_is_found_dead(backend, settings):
    settings.PORTAL_FLEET_MAX_IN_FLIGHT = 1
    store = budget._store()
    assert store.acquire(T1, "dead-worker-1/lease", 1, 3600, 0)[0]  # held for an hour
    assert budget.in_flight(T1) == 1
    assert budget.release_worker("dead-worker-1") == 1
    began = time.monotonic()
    with budget.slot(T1):
        assert time.monotonic() - began < 0.5
    assert budget.in_flight(T1) == 0


def test_a_place_kept_between_calls_counts_once_and_is_let_go(backend, settings):
    settings.PORTAL_FLEET_MAX_IN_FLIGHT = 1
    for _ in range(3):  # the thread's own kept place never blocks its next call
        with budget.slot(T1, keep=True):
            assert budget.in_flight(T1) == 1
    assert budget.in_flight(T1) == 1
    budget.let_go(T1)
    assert budget.in_flight(T1) == 0


def test_with_no_budget_a_kept_place_is_written_once_not_once_a_call(
    backend, settings, monkeypatch
):
    settings.PORTAL_FLEET_WORKER_TIMEOUT = 30  # renewed every 15 s
    store = budget._store()
    acquired = []
    original = store.acquire
    monkeypatch.setattr(store, "acquire", lambda *a: acquired.append(a) or original(*a))
    for _ in range(5):
        with budget.slot(T1, keep=True):
            assert budget.in_flight(T1) == 1
    assert len(acquired) == 1
    # A pause still stops the next call (it is read before every call).
    budget.pause(T1, 0.5)
    began = time.monotonic()
    with budget.slot(T1, keep=True):
        assert time.monotonic() - began >= 0.4
    # The lease is renewed before it could run out under a call: every half worker timeout.
    settings.PORTAL_FLEET_WORKER_TIMEOUT = 0.4
    acquired.clear()
    time.sleep(0.25)
    with budget.slot(T1, keep=True):
        pass
    assert len(acquired) == 1
    budget.let_go(T1)
    assert budget.in_flight(T1) == 0
