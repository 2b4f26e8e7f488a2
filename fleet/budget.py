"""The per-token budget of upstream calls that fleet work spends, shared by every worker.

`slot(token_id)` is a context manager around ONE upstream call of fleet work: entering it
waits until that call may start, leaving it frees its place. A call may start when

- the token is not paused (`pause(token_id, seconds)` after a 429's Retry-After stops the
  token's fleet calls until then, for every worker and instance);
- fewer than PORTAL_FLEET_MAX_IN_FLIGHT fleet calls of the token are in flight over every
  worker (a shared counting semaphore of leases: a killed worker's places come back when
  their leases run out, see `lease_seconds()`);
- its turn has come: fleet calls are spaced evenly, one every `interval()` seconds, so that
  fleet work spends at most PORTAL_CALLS_PER_MINUTE - PORTAL_CALLS_RESERVED_FOR_PAGES calls
  per PORTAL_BUDGET_WINDOW_SECONDS (60). Even spacing, with no burst (GCRA with a burst of
  one), keeps within the budget whatever window the upstream counts in, so the pages'
  reserved share is never taken. PORTAL_CALLS_PER_MINUTE = 0: no spacing (no budget);
  pauses and the in-flight cap still hold.

The state lives in Redis when REDIS_URL is set (each step one Lua script, atomic; Redis's
own clock), in the database otherwise (one `fleet.models.Budget` row per token, locked with
select_for_update; the workers' clocks). The key is always the token's pk, never the token.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

# Spacing a hair wider than the budget: arrival jitter (a millisecond here or there) must
# never let the upstream count one call too many in its window.
SLACK = 1.01
# How often a caller waiting for a place in flight looks again (seconds).
POLL = 0.05


_writes = threading.RLock()


@contextmanager
def writing() -> Iterator[None]:
    """One database write of fleet work at a time in this process, on SQLite: its threads
    queue on a lock instead of on SQLite's busy handler, which sleeps in steps of up to
    100 ms when a write waits for another (PostgreSQL: no lock, rows lock themselves)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        yield
        return
    with _writes:
        yield


class Turn:
    """`writing()` taken when a call ends (`after`), held until `release()`: the answer's
    audit row and the item's record are written without waiting on SQLite's busy handler,
    in one transaction (one commit for the audit row, the record and `then`, the token's
    cached reads forgotten)."""

    def __init__(self) -> None:
        from django.db import connection

        self.lock = _writes if connection.vendor == "sqlite" else None
        self.held = False
        self.atomic: Any = None

    def after(self, call: Any, then: Any = None) -> Any:
        try:
            return call()
        finally:
            if self.lock is not None:
                self.lock.acquire()
                self.held = True
            atomic = transaction.atomic()
            atomic.__enter__()
            self.atomic = atomic  # only once it is open: release() closes it
            if then is not None:
                then()

    def release(self) -> None:
        try:
            if self.atomic is not None:
                atomic, self.atomic = self.atomic, None
                # Commits what was written, even when what came after failed (the audit row
                # of a write is kept); rolls back only a transaction the database broke.
                atomic.__exit__(None, None, None)
        finally:
            if self.held:
                self.held = False
                self.lock.release()


def rate() -> int | None:
    """Fleet calls per window for a token, or None when there is no budget."""
    total = settings.PORTAL_CALLS_PER_MINUTE
    if not total:
        return None
    return max(1, total - settings.PORTAL_CALLS_RESERVED_FOR_PAGES)


def window() -> float:
    return float(getattr(settings, "PORTAL_BUDGET_WINDOW_SECONDS", 60.0))


def interval() -> float:
    """Seconds between two fleet calls of one token (0: no budget)."""
    per_window = rate()
    return 0.0 if per_window is None else window() / per_window * SLACK


def max_in_flight() -> int:
    return settings.PORTAL_FLEET_MAX_IN_FLIGHT


def lease_seconds() -> float:
    """How long a place in flight is held at most: a turn's wait, the call's own timeouts
    and a worker's timeout. A killed worker's places come back after this."""
    return (
        max_in_flight() * interval()
        + 2 * (settings.IOT_API_TIMEOUT + settings.IOT_API_CONNECT_TIMEOUT)
        + settings.PORTAL_FLEET_WORKER_TIMEOUT
    )


# Set when this process is asked to stop (fleet.engine sets it on SIGTERM): a caller still
# waiting for its turn gives up (Stopping) rather than hold up the stop.
stopping = threading.Event()


class Stopping(Exception):
    """Raised by `slot()` when the process stops before the call's turn came: not sent."""


_kept = threading.local()  # {token_id: lease} a thread keeps between its calls (keep=True)


def _refresh_every() -> float:
    """With no budget, a kept place in flight is written again (its lease renewed) only this
    often, not once a call: between two renewals a call needs one read (is the token paused?)
    and no write. The lease still has more than a call's own timeouts left when it is used."""
    return settings.PORTAL_FLEET_WORKER_TIMEOUT / 2


@contextmanager
def slot(token_id: int, *, keep: bool = False) -> Iterator[None]:
    """Wait for the token's next fleet call to be allowed; free its place when done.

    `keep=True`: the thread keeps its place in flight for its next call (one database write
    fewer a call) until `let_go(token_id)`; a thread's nested slots share it.
    """
    from fleet.engine import worker_id

    store = _store()
    kept: dict[int, str] = _kept.__dict__.setdefault("leases", {})
    renewed: dict[int, float] = _kept.__dict__.setdefault("renewed", {})
    # A dead worker's leases are let go by name (release_worker).
    lease = kept.get(token_id) or f"{worker_id()}/{uuid.uuid4().hex}"
    nested = token_id in kept and getattr(_kept, "depth", 0) > 0
    while True:
        if stopping.is_set():
            if not nested:
                kept.pop(token_id, None)
                renewed.pop(token_id, None)
                store.release(token_id, lease)
            raise Stopping
        step = interval()
        if (
            step <= 0
            and token_id in kept
            and time.monotonic() - renewed.get(token_id, -1e9) < _refresh_every()
            and store.paused_for(token_id) <= 0
        ):
            break  # no budget, and this thread's place in flight is still leased: go
        asked = time.monotonic()
        taken, wait = store.acquire(token_id, lease, max_in_flight(), lease_seconds(), step)
        if taken:
            renewed[token_id] = asked
        if not taken:  # paused, or every place in flight is taken: look again soon
            stopping.wait(min(wait, 1.0))
            continue
        if wait <= 0:
            break
        stopping.wait(wait)
        if stopping.is_set():
            continue
        if store.paused_for(token_id) <= 0:
            break
        if not nested:
            store.release(token_id, lease)  # a 429 came while this call waited its turn
            kept.pop(token_id, None)
            renewed.pop(token_id, None)
    _kept.depth = getattr(_kept, "depth", 0) + 1
    try:
        yield
    finally:
        _kept.depth -= 1
        if keep or nested:
            kept[token_id] = lease
        else:
            kept.pop(token_id, None)
            renewed.pop(token_id, None)
            store.release(token_id, lease)


def let_go(token_id: int) -> None:
    """Free the place in flight this thread kept (slot(keep=True)), if any."""
    kept: dict[int, str] = _kept.__dict__.setdefault("leases", {})
    lease = kept.pop(token_id, None)
    _kept.__dict__.setdefault("renewed", {}).pop(token_id, None)
    if lease is not None:
        _store().release(token_id, lease)


def pause(token_id: int, seconds: float) -> None:
    """Stop this token's fleet calls for `seconds` (never shortens a longer pause)."""
    if seconds > 0:
        _store().pause(token_id, float(seconds))


def paused_for(token_id: int) -> float:
    """Seconds before this token's fleet work may call again (0: now)."""
    return _store().paused_for(token_id)


def in_flight(token_id: int) -> int:
    """The token's fleet calls in flight now, over every worker."""
    return _store().in_flight(token_id)


def release_worker(worker: str) -> int:
    """Let go of every place in flight a worker held (it is dead: fleet.engine.revive), over
    every token, rather than wait for the leases to run out. Returns how many."""
    return _store().release_worker(worker)


def forget(token_id: int) -> None:
    """Drop the token's budget state (tests; a token deleted)."""
    _store().forget(token_id)


# ---------------------------------------------------------------------- Redis

# KEYS: paused, leases, tat. ARGV: lease id, cap, lease seconds, step. Returns {taken, wait}:
# {0, seconds} while paused or full; else a place in flight is leased and, with a step, the
# call's turn reserved: the token's theoretical arrival time (tat) is when the next call may
# start, max(tat, now), and moves one step on (GCRA, burst of one).
_ACQUIRE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
if paused > t then return {0, tostring(paused - t)} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', t)
local own = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not own and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return {0, '0.05'} end
redis.call('ZADD', KEYS[2], t + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], math.ceil(tonumber(ARGV[3]) * 1000) + 1000)
local step = tonumber(ARGV[4])
if step <= 0 then return {1, '0'} end
local tat = tonumber(redis.call('GET', KEYS[3]) or '0')
local start = math.max(tat, t)
local ttl = math.ceil((start + step - t) * 1000) + 1000
redis.call('SET', KEYS[3], tostring(start + step), 'PX', ttl)
return {1, tostring(start - t)}
"""
_PAUSE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local until_ = t + tonumber(ARGV[1])
local old = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > old then
  redis.call('SET', KEYS[1], tostring(until_), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return 1
"""
_PAUSED_FOR = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
local until_ = tonumber(redis.call('GET', KEYS[1]) or '0')
return tostring(math.max(0, until_ - t))
"""


class _Redis:
    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.prefix = f"{prefix}:fleet-budget"
        self._acquire = self.client.register_script(_ACQUIRE)
        self._pause = self.client.register_script(_PAUSE)
        self._paused_for = self.client.register_script(_PAUSED_FOR)

    def key(self, token_id: int, what: str) -> str:
        return f"{self.prefix}:{int(token_id)}:{what}"

    def acquire(
        self, token_id: int, lease: str, limit: int, ttl: float, step: float
    ) -> tuple[bool, float]:
        keys = [self.key(token_id, w) for w in ("paused", "leases", "tat")]
        taken, wait = self._acquire(keys=keys, args=[lease, limit, ttl, step])
        return bool(taken), float(wait)

    def release(self, token_id: int, lease: str) -> None:
        self.client.zrem(self.key(token_id, "leases"), lease)

    def pause(self, token_id: int, seconds: float) -> None:
        self._pause(keys=[self.key(token_id, "paused")], args=[seconds])

    def paused_for(self, token_id: int) -> float:
        return float(self._paused_for(keys=[self.key(token_id, "paused")]))

    def in_flight(self, token_id: int) -> int:
        key = self.key(token_id, "leases")
        self.client.zremrangebyscore(key, "-inf", self._now())
        return int(self.client.zcard(key))

    def release_worker(self, worker: str) -> int:
        released = 0
        for key in self.client.scan_iter(f"{self.prefix}:*:leases"):
            mine = [
                m for m in self.client.zrange(key, 0, -1) if m.decode().startswith(f"{worker}/")
            ]
            if mine:
                released += int(self.client.zrem(key, *mine))
        return released

    def forget(self, token_id: int) -> None:
        self.client.delete(*(self.key(token_id, w) for w in ("leases", "tat", "paused")))

    def _now(self) -> float:
        seconds, micros = self.client.time()
        return seconds + micros / 1e6


# ---------------------------------------------------------------------- the database


class _Database:
    """One Budget row per token, locked while it changes (select_for_update; on SQLite the
    write transaction itself serialises)."""

    @contextmanager
    def row(self, token_id: int) -> Iterator[Any]:
        from fleet.models import Budget

        with writing(), transaction.atomic():
            row = Budget.objects.select_for_update().filter(token_id=token_id).first()
            if row is None:
                try:
                    with transaction.atomic():
                        Budget.objects.create(token_id=token_id)
                except IntegrityError:
                    pass
                row = Budget.objects.select_for_update().get(token_id=token_id)
            yield row
            row.save()

    def acquire(
        self, token_id: int, lease: str, limit: int, ttl: float, step: float
    ) -> tuple[bool, float]:
        with self.row(token_id) as row:
            now = time.time()
            if row.paused_until > now:
                return False, row.paused_until - now
            leases = {k: v for k, v in (row.leases or {}).items() if v > now}
            if lease not in leases and len(leases) >= limit:
                row.leases = leases
                return False, POLL
            leases[lease] = now + ttl
            row.leases = leases
            if step <= 0:
                return True, 0.0
            start = max(row.next_call_at, now)
            row.next_call_at = start + step
            return True, start - now

    def release(self, token_id: int, lease: str) -> None:
        with self.row(token_id) as row:
            leases = dict(row.leases or {})
            leases.pop(lease, None)
            row.leases = leases

    def pause(self, token_id: int, seconds: float) -> None:
        with self.row(token_id) as row:
            row.paused_until = max(row.paused_until, time.time() + seconds)

    def paused_for(self, token_id: int) -> float:
        from fleet.models import Budget

        until = Budget.objects.filter(token_id=token_id).values_list("paused_until", flat=True)
        found = until.first()
        return max(0.0, (found or 0.0) - time.time())

    def in_flight(self, token_id: int) -> int:
        from fleet.models import Budget

        leases = Budget.objects.filter(token_id=token_id).values_list("leases", flat=True).first()
        now = time.time()
        return sum(1 for expiry in (leases or {}).values() if expiry > now)

    def release_worker(self, worker: str) -> int:
        from fleet.models import Budget

        released = 0
        for token_id in Budget.objects.exclude(leases={}).values_list("token_id", flat=True):
            with self.row(token_id) as row:
                leases = dict(row.leases or {})
                mine = [k for k in leases if k.startswith(f"{worker}/")]
                for key in mine:
                    del leases[key]
                row.leases = leases
                released += len(mine)
        return released

    def forget(self, token_id: int) -> None:
        from fleet.models import Budget

        Budget.objects.filter(token_id=token_id).delete()


_lock = threading.Lock()


@functools.cache
def _redis(url: str, prefix: str) -> _Redis:
    return _Redis(url, prefix)


_database = _Database()


def _store() -> _Redis | _Database:
    url = getattr(settings, "REDIS_URL", "")
    if url:
        with _lock:
            prefix = settings.CACHES.get("default", {}).get("KEY_PREFIX") or "portal"
            return _redis(url, prefix)
    return _database
