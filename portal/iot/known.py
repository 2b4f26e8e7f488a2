"""The device uids each token is known to have, so a page reads a device's panels beside it.

A device's page starts its panels' reads before its own read of the detail has answered, so
that they overlap. For a uid the token does not have (a mistyped address, a device removed
since), those reads would be wasted: the upstream answers 404 to each. So the page starts them
ahead only for a uid known to be the token's: one in the device list this process last read
for the token, or whose detail it has read since. Any other uid has its detail read first,
and its panels' reads only when the detail has answered (one round trip more, once).

Each process keeps its own memory (like the in-process read cache): small (uids only, keyed
by the token's id, never its value) and bounded to the `MAX_TOKENS` tokens used last. A uid
that turns out gone (its detail answers 404) is forgotten at once, so a device removed upstream
costs at most one page's panel reads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

MAX_TOKENS = 256

_lock = threading.Lock()
_known: OrderedDict[str | int, set[str]] = OrderedDict()


def has(cache_id: str | int | None, uid: str) -> bool:
    """Whether `uid` is known to be one of the token's devices."""
    if cache_id is None:
        return False
    with _lock:
        uids = _known.get(cache_id)
        return uids is not None and uid in uids


def listed(cache_id: str | int | None, uids: Iterable[str]) -> None:
    """The token's whole device list, just read: it replaces what was known."""
    _store(cache_id, set(uids), replace=True)


def seen(cache_id: str | int | None, uid: str) -> None:
    """One device's detail, just read: the uid is the token's."""
    _store(cache_id, {uid}, replace=False)


def gone(cache_id: str | int | None, uid: str) -> None:
    """The upstream does not know `uid` for this token (404): forget it."""
    with _lock:
        uids = _known.get(cache_id) if cache_id is not None else None
        if uids is not None:
            uids.discard(uid)


def clear() -> None:
    """Forget everything (tests)."""
    with _lock:
        _known.clear()


def _store(cache_id: str | int | None, uids: set[str], *, replace: bool) -> None:
    if cache_id is None:
        return
    with _lock:
        if replace or cache_id not in _known:
            _known[cache_id] = uids
        else:
            _known[cache_id].update(uids)
        _known.move_to_end(cache_id)
        while len(_known) > MAX_TOKENS:
            _known.popitem(last=False)
