"""The per-token budget of upstream calls that fleet work spends (stub: no limit yet).

`slot(token_id)` is a context manager: entering it waits until a fleet call for that token
may start (the token's budget, the share reserved for people using the pages, its pause after
a 429, its calls in flight over every worker); leaving it frees the slot. `pause(token_id,
seconds)` stops the token's fleet work until then (a 429's Retry-After).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def slot(token_id: int) -> Iterator[None]:
    yield


def pause(token_id: int, seconds: float) -> None:
    """Stop this token's fleet calls for `seconds`."""


def paused_for(token_id: int) -> float:
    """Seconds before this token's fleet work may call again (0: now)."""
    return 0.0
