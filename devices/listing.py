"""Search, filter, sort and page the device list. Pure functions over upstream dicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

SORTS = {
    "name": lambda d: (str(d.get("name") or "").casefold(), d.get("uid", "")),
    "uid": lambda d: str(d.get("uid") or ""),
    "status": lambda d: str(d.get("status") or ""),
    "online": lambda d: (not is_online(d), str(d.get("name") or "").casefold()),
    "last_seen": lambda d: str(d.get("last_seen_at") or ""),
    "platform": lambda d: str(_name(d.get("platform"))),
    "board": lambda d: str(_name(d.get("board"))),
}

COLUMNS = [
    ("name", "Name"),
    ("uid", "UID"),
    ("status", "Status"),
    ("online", "Online"),
    ("last_seen", "Last seen"),
    ("platform", "Platform"),
    ("board", "Board"),
]


def _name(value: object) -> str:
    return str(value.get("name") or "") if isinstance(value, dict) else ""


def is_online(device: dict[str, Any]) -> bool:
    """The compact list has no is_online flag; the status says it."""
    if isinstance(device.get("is_online"), bool):
        return device["is_online"]
    return device.get("status") == "online"


@dataclass
class DeviceQuery:
    """What the address bar says about the list: search, filters, sort and page."""

    q: str = ""
    status: str = ""
    online: str = ""  # "", "yes" or "no"
    platform: str = ""
    board: str = ""
    sort: str = "name"
    descending: bool = False
    page: int = 1

    @classmethod
    def from_params(cls, params: QueryDict) -> DeviceQuery:
        sort = params.get("sort", "name")
        descending = sort.startswith("-")
        sort = sort.lstrip("-")
        try:
            page = max(1, int(params.get("page", "1")))
        except ValueError:
            page = 1
        online = params.get("online", "")
        return cls(
            q=params.get("q", "").strip()[:100],
            status=params.get("status", "")[:30],
            online=online if online in ("yes", "no") else "",
            platform=params.get("platform", "")[:50],
            board=params.get("board", "")[:50],
            sort=sort if sort in SORTS else "name",
            descending=descending,
            page=page,
        )

    @property
    def sort_param(self) -> str:
        return f"-{self.sort}" if self.descending else self.sort

    def matches(self, device: dict[str, Any]) -> bool:
        if self.q:
            needle = self.q.casefold()
            haystack = f"{device.get('name') or ''} {device.get('uid') or ''}".casefold()
            if needle not in haystack:
                return False
        if self.status and device.get("status") != self.status:
            return False
        if self.online and is_online(device) != (self.online == "yes"):
            return False
        platform = device.get("platform") if isinstance(device.get("platform"), dict) else {}
        if self.platform and platform.get("key") != self.platform:
            return False
        board = device.get("board") if isinstance(device.get("board"), dict) else {}
        return not (self.board and board.get("key") != self.board)

    def columns(self) -> list[tuple[str, str, str]]:
        """(key, heading, the sort a click on the heading asks for): a click flips order."""
        return [
            (key, label, f"-{key}" if key == self.sort and not self.descending else key)
            for key, label in COLUMNS
        ]

    @property
    def is_filtered(self) -> bool:
        return bool(self.q or self.status or self.online or self.platform or self.board)


@dataclass
class DevicePage:
    devices: list[dict[str, Any]]
    total: int  # the whole fleet
    matched: int  # after search and filters
    page: int
    pages: int
    facets: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def facets(devices: list[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    """The choices the filters offer, taken from the fleet itself."""
    statuses: set[str] = set()
    platforms: dict[str, str] = {}
    boards: dict[str, str] = {}
    for device in devices:
        if device.get("status"):
            statuses.add(str(device["status"]))
        for key, found in (("platform", platforms), ("board", boards)):
            value = device.get(key)
            if isinstance(value, dict) and value.get("key"):
                found[str(value["key"])] = str(value.get("name") or value["key"])
    return {
        "status": [(s, s.capitalize()) for s in sorted(statuses)],
        "platform": sorted(platforms.items(), key=lambda kv: kv[1]),
        "board": sorted(boards.items(), key=lambda kv: kv[1]),
    }


def select(devices: list[dict[str, Any]], query: DeviceQuery, page_size: int) -> DevicePage:
    """Apply a query to the fleet and cut out one page of it."""
    matched = [d for d in devices if query.matches(d)]
    matched.sort(key=SORTS[query.sort], reverse=query.descending)
    pages = max(1, -(-len(matched) // page_size))
    page = min(query.page, pages)
    start = (page - 1) * page_size
    return DevicePage(
        devices=matched[start : start + page_size],
        total=len(devices),
        matched=len(matched),
        page=page,
        pages=pages,
        facets=facets(devices),
    )
