"""The per-token read cache: identical reads of one token shared for a short window.

A team sharing one token must not multiply upstream reads. Reads are keyed by the token's
cache id (never the token) and a generation tag that every write replaces.
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
from redis.exceptions import RedisError

from portal.iot.errors import RateLimited, TokenRejected, UpstreamUnavailable

logger = logging.getLogger("portal.iot")

# What a cache backend raises when its server is away (Redis down, a socket error).
CACHE_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)


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
        key = f"iot:{self.cache_id}:gen"
        generation = cache.get(key)
        if generation is None:
            generation = uuid.uuid4().hex[:16]
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
        window = settings.PORTAL_READ_CACHE_SECONDS
        if self.cache_id is None or window <= 0:
            return fetch()
        try:
            return self._single_flight(self._key(*parts), fetch, window)
        except CACHE_ERRORS as error:
            # Only cache calls made before the read can get here (see _single_flight).
            logger.warning("read cache unavailable (%s); reading directly", type(error).__name__)
            return fetch()

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
        """Forget every cached read for this token (after a write)."""
        if self.cache_id is not None:
            try:
                cache.set(f"iot:{self.cache_id}:gen", uuid.uuid4().hex[:16], None)
            except CACHE_ERRORS as error:
                # Nothing can be served from a cache that is down; it is only logged.
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
