"""The per-token read cache: identical reads of one token shared for a short window.

A team sharing one token must not multiply upstream reads. Reads are keyed by the token's
cache id (never the token) and a generation tag that every write replaces. The generation
lives where every worker of every instance sees it: in the cache when the cache is shared
(Redis), in the database when it is each process's own memory (LocMem, the default).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from redis.exceptions import RedisError

from portal.iot.errors import RateLimited, TokenRejected, UpstreamUnavailable

logger = logging.getLogger("portal.iot")

# What a cache backend raises when its server is away (Redis down, a socket error).
CACHE_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)
# What may fail while the generation is read or replaced: the cache, or the database.
_GENERATION_ERRORS: tuple[type[Exception], ...] = (*CACHE_ERRORS, DatabaseError)


def _new_tag() -> str:
    return uuid.uuid4().hex[:16]


def generation_in_database() -> bool:
    """Whether the cache is each process's own, so the generation must live in the database."""
    return settings.CACHES["default"]["BACKEND"].endswith(".LocMemCache")


class ReadCache:
    """The shared reads of one token (`cache_id`); `None` shares nothing."""

    def __init__(self, cache_id: str | int | None, wait_limit: float) -> None:
        self.cache_id = cache_id
        self.wait_limit = wait_limit  # how long a waiter waits for the reader's result

    def _key(self, *parts: str) -> str:
        return ":".join(("iot", str(self.cache_id), self._generation(), *parts))

    def _generation(self) -> str:
        """The token's current cache generation: a random tag, replaced by every write.

        Random rather than a counter: if the cache evicts the generation key (LocMem culls
        past its MAX_ENTRIES, Redis under maxmemory), a counter would restart at 1 and could
        bring back reads cached under an old 1 before the write; a fresh tag never can.
        """
        if generation_in_database():
            from portal.models import ReadGeneration

            tags = ReadGeneration.objects.filter(key=str(self.cache_id)).values_list("tag")[:1]
            # No row: no write yet, and none of the reads cached under "-" came before one.
            return next((tag for (tag,) in tags), "-")
        key = f"iot:{self.cache_id}:gen"
        generation = cache.get(key)
        if generation is None:
            generation = _new_tag()
            if not cache.add(key, generation, None):
                generation = cache.get(key) or generation
        return str(generation)

    def read(self, parts: tuple[str, ...], fetch: Callable[[], Any]) -> Any:
        """Share one upstream read among everyone on this token for the cache window.

        Single flight: the first caller takes a lock (an atomic cache.add, so it holds across
        processes when the cache is Redis) and reads; the others wait for its result. When
        the cache itself is down, every caller reads the upstream directly: slower, never
        an error page.
        """
        return self.prepared(parts, fetch)()

    def prepared(self, parts: tuple[str, ...], fetch: Callable[[], Any]) -> Callable[[], Any]:
        """`read()` in two halves: its key now, in the caller's thread (the generation may
        live in the database), and the read itself when the callable returned is called, in
        any thread (it uses the cache and the upstream only: portal/iot/parallel.py's rule)."""
        window = settings.PORTAL_READ_CACHE_SECONDS
        if self.cache_id is None or window <= 0:
            return fetch
        try:
            key = self._key(*parts)
        except _GENERATION_ERRORS as error:
            logger.warning("read cache unavailable (%s); reading directly", type(error).__name__)
            return fetch

        def read() -> Any:
            try:
                return self._single_flight(key, fetch, window)
            except _GENERATION_ERRORS as error:
                # Only calls made before the read can get here (see _single_flight).
                logger.warning(
                    "read cache unavailable (%s); reading directly", type(error).__name__
                )
                return fetch()

        return read

    def _single_flight(self, key: str, fetch: Callable[[], Any], window: float) -> Any:
        for _ in _waits(self.wait_limit):
            hit = cache.get(key)
            if hit is not None:
                return _unwrap(hit)
            if cache.add(f"{key}:lock", 1, timeout=int(self.wait_limit + 5)):
                try:
                    # The previous holder may have stored its read between our miss and our
                    # lock: use it rather than read again.
                    hit = cache.get(key)
                    if hit is not None:
                        return _unwrap(hit)
                    try:
                        value = fetch()
                    except (UpstreamUnavailable, TokenRejected, RateLimited) as error:
                        # Share a failure briefly too, so a failing upstream isn't hammered.
                        with suppress(*CACHE_ERRORS):
                            cache.set(key, ("error", error), timeout=min(window, 2))
                        raise
                    # The read is done: a cache failing now must not cost a second read.
                    with suppress(*CACHE_ERRORS):
                        cache.set(key, ("ok", value), timeout=window)
                    return value
                finally:
                    with suppress(*CACHE_ERRORS):
                        cache.delete(f"{key}:lock")
        return fetch()

    def invalidate(self) -> None:
        """Forget every cached read for this token (after a write), in every worker."""
        if self.cache_id is None or settings.PORTAL_READ_CACHE_SECONDS <= 0:
            return  # nothing is cached, so nothing can be stale
        try:
            if generation_in_database():
                from portal.models import ReadGeneration

                # A savepoint: a failure here must not break a transaction around the write.
                # One UPDATE once the row exists (every write but the token's first).
                key = str(self.cache_id)
                with transaction.atomic():
                    if not ReadGeneration.objects.filter(key=key).update(tag=_new_tag()):
                        ReadGeneration.objects.update_or_create(
                            key=key, defaults={"tag": _new_tag()}
                        )
            else:
                cache.set(f"iot:{self.cache_id}:gen", _new_tag(), None)
        except _GENERATION_ERRORS as error:
            # A cache that is down serves nothing; a database that is down serves no page.
            logger.warning("read cache unavailable (%s) for invalidation", type(error).__name__)


def _waits(limit: float) -> Iterator[None]:
    deadline = time.monotonic() + limit
    delay = 0.01
    while time.monotonic() < deadline:
        yield
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)


def _unwrap(hit: tuple[str, Any]) -> Any:
    kind, value = hit
    if kind == "error":
        raise value
    return value
