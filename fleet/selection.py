"""The devices a user has selected in the table, kept in their session per token's fleet.

The selection survives paging, sorting and filtering: it is a set of uids on the server, not
checkboxes on one page. The device table adds to it (a row, "select this page", "select all N
matching this search") and the bulk actions read it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest

KEY = "fleet_selection"
LIMIT = 20_000  # uids kept at most: well above the largest fleet a team runs here


def _key(token_id: int | None) -> str:
    return f"{KEY}:{token_id or 0}"


def get(request: HttpRequest, token_id: int | None) -> list[str]:
    """The selected uids, in the order they were selected."""
    value = request.session.get(_key(token_id), [])
    return [uid for uid in value if isinstance(uid, str)] if isinstance(value, list) else []


def add(request: HttpRequest, token_id: int | None, uids: Iterable[str]) -> int:
    chosen = list(dict.fromkeys([*get(request, token_id), *uids]))[:LIMIT]
    request.session[_key(token_id)] = chosen
    return len(chosen)


def remove(request: HttpRequest, token_id: int | None, uids: Iterable[str]) -> int:
    gone = set(uids)
    chosen = [uid for uid in get(request, token_id) if uid not in gone]
    request.session[_key(token_id)] = chosen
    return len(chosen)


def clear(request: HttpRequest, token_id: int | None) -> None:
    request.session.pop(_key(token_id), None)
