"""Search, filter, sort and page the device list. Pure functions over the upstream's list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from portal.display import parse_time, text
from portal.iot import UID_PATTERN, DeviceSummary
from portal.presence import Presence, Rule, local_time

__all__ = ["parse_time"]  # the device tags take it from here

SORTS: dict[str, Callable[[DeviceSummary], object]] = {
    # Python's sort is stable: equal names keep the upstream's order.
    "name": lambda d: (d.name or "").casefold(),
    "uid": lambda d: d.uid,
    "status": lambda d: d.status or "",
    "last_seen": lambda d: d.last_seen_at or "",
    "platform": lambda d: text(d.platform),
    "board": lambda d: text(d.board),
}


def sort_key(sort: str, rule: Rule) -> Callable[[DeviceSummary], object]:
    """The key a column sorts by; "online" needs the page's rule (portal/presence.py)."""
    if sort == "online":
        return lambda d: (not rule.online(d.is_online, d.last_seen_at), (d.name or "").casefold())
    return SORTS[sort]


SORTABLE = {*SORTS, "online"}

COLUMNS = [
    ("name", "Name"),
    ("uid", "UID"),
    ("status", "Status"),
    ("online", "Online"),
    ("last_seen", "Last seen"),
    ("platform", "Platform"),
    ("board", "Board"),
]

# How the Sort by menu (a phone's sort control: the headings are hidden there) says each
# direction of each column: (ascending, descending).
SORT_WORDS = {
    "name": ("A to Z", "Z to A"),
    "uid": ("A to Z", "Z to A"),
    "status": ("A to Z", "Z to A"),
    "online": ("online first", "offline first"),
    "last_seen": ("oldest first", "most recent first"),
    "platform": ("A to Z", "Z to A"),
    "board": ("A to Z", "Z to A"),
}


@dataclass
class DeviceQuery:
    """What the address bar says about the list: search, filters, sort and page."""

    q: str = ""
    status: str = ""
    online: str = ""  # "", "yes" or "no"
    platform: str = ""
    board: str = ""
    tag: str = ""  # a tag of the portal's own (fleet/tags.py), any case
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
            tag=" ".join(params.get("tag", "")[:100].split()),
            sort=sort if sort in SORTABLE else "name",
            descending=descending,
            page=page,
        )

    @property
    def sort_param(self) -> str:
        return f"-{self.sort}" if self.descending else self.sort

    def matches(
        self, device: DeviceSummary, rule: Rule, tagged: frozenset[str] = frozenset()
    ) -> bool:
        if self.tag and device.uid not in tagged:
            return False
        if self.q:
            needle = self.q.casefold()
            if needle not in f"{device.name or ''} {device.uid}".casefold():
                return False
        if self.status and device.status != self.status:
            return False
        if self.online and (self.online == "yes") != rule.online(
            device.is_online, device.last_seen_at
        ):
            return False
        if self.platform and (device.platform is None or device.platform.key != self.platform):
            return False
        return not (self.board and (device.board is None or device.board.key != self.board))

    def columns(self, params: QueryDict) -> list[tuple[str, str, str]]:
        """(key, heading, the link a click on the heading follows): a click flips order."""
        return [
            (
                key,
                label,
                querystring(
                    params,
                    sort=f"-{key}" if key == self.sort and not self.descending else key,
                    page=None,
                ),
            )
            for key, label in COLUMNS
        ]

    def sort_choices(self) -> list[tuple[str, str, bool]]:
        """(sort parameter, words, whether it is the current sort) for the Sort by menu."""
        current = self.sort_param
        return [
            (param, f"{label}, {words}", param == current)
            for key, label in COLUMNS
            for param, words in zip((key, f"-{key}"), SORT_WORDS[key], strict=True)
        ]

    @property
    def is_filtered(self) -> bool:
        return bool(self.q or self.status or self.online or self.platform or self.board or self.tag)


def querystring(params: QueryDict, **changes: object) -> str:
    """What `{% querystring key=value %}` gives (None drops a key), built in Python.

    A list page has about twenty such links; the template tag cost 50 µs or more each.
    """
    pairs: list[tuple[str, str]] = []
    for key, values in params.lists():
        if key not in changes:
            pairs += [(key, value) for value in values]
        elif changes[key] is not None:
            pairs.append((key, str(changes[key])))
    pairs += [(k, str(v)) for k, v in changes.items() if v is not None and k not in params]
    return f"?{urlencode(pairs)}"


@dataclass
class DevicePage:
    devices: list[DeviceSummary]
    total: int  # the whole fleet
    matched: int  # after search and filters
    page: int
    pages: int
    facets: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def pager(self, params: QueryDict) -> dict[str, str]:
        """The links to the previous and next pages, where there are such pages."""
        links = {}
        if self.page > 1:
            links["prev"] = querystring(params, page=self.page - 1)
        if self.page < self.pages:
            links["next"] = querystring(params, page=self.page + 1)
        return links


def facets(devices: list[DeviceSummary]) -> dict[str, list[tuple[str, str]]]:
    """The choices the filters offer, taken from the fleet itself.

    One pass over the fleet (a full page computes this for every device); a key's name is
    the first one seen.
    """
    statuses: set[str] = set()
    platforms: dict[str, str] = {}
    boards: dict[str, str] = {}
    for d in devices:
        if status := d.status:
            statuses.add(status)
        platform, board = d.platform, d.board
        if platform is not None and (key := platform.key) and key not in platforms:
            platforms[key] = platform.name or key
        if board is not None and (key := board.key) and key not in boards:
            boards[key] = board.name or key
    return {
        # The upstream's own words, as it writes them: what they mean is not the portal's to say.
        "status": [(s, s) for s in sorted(statuses)],
        "platform": _choices(platforms),
        "board": _choices(boards),
    }


def _choices(found: dict[object, object]) -> list[tuple[str, str]]:
    return sorted(((str(k), str(name)) for k, name in found.items()), key=lambda kv: kv[1])


def matching(
    devices: list[DeviceSummary], query: DeviceQuery, tagged: frozenset[str] = frozenset()
) -> list[DeviceSummary]:
    """The devices the query matches, in the table's order (every page of it).

    `tagged`: the uids that have the query's tag (fleet/tags.py), when it names one.
    An unfiltered list is not looked at device by device: only the sort key is computed,
    once per device.
    """
    rule = Rule()
    matched = (
        [d for d in devices if query.matches(d, rule, tagged)] if query.is_filtered else devices
    )
    return sorted(matched, key=sort_key(query.sort, rule), reverse=query.descending)


def select(
    devices: list[DeviceSummary],
    query: DeviceQuery,
    page_size: int,
    *,
    with_facets: bool = True,
    tagged: frozenset[str] = frozenset(),
) -> DevicePage:
    """Apply a query to the fleet and cut out one page of it.

    `with_facets=False` skips the filter choices: a table refresh does not redraw the form.
    """
    ordered = matching(devices, query, tagged)
    pages = max(1, -(-len(ordered) // page_size))
    page = min(query.page, pages)
    start = (page - 1) * page_size
    return DevicePage(
        devices=ordered[start : start + page_size],
        total=len(devices),
        matched=len(ordered),
        page=page,
        pages=pages,
        facets=facets(devices) if with_facets else {},
    )


@dataclass
class Row:
    """One table row, with everything the template shows worked out here.

    Only the rows of the page shown are built, so this costs 50 rows, not the fleet.
    """

    uid: str
    url: str
    name: str
    status: str
    presence: Presence
    seen: datetime | None
    seen_text: str
    seen_title: str
    platform: str
    board: str
    variant: str
    tags: list[str] = field(default_factory=list)
    selected: bool | None = None  # None: the user has no bulk action, so no checkbox


def ago(moment: datetime, now: datetime) -> str:
    """Relative time in plain words ("12 seconds ago"): cheap enough for every row."""
    seconds = int((now - moment).total_seconds())
    if seconds < 1:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"


def rows(
    devices: list[DeviceSummary],
    now: datetime | None = None,
    *,
    tags: dict[str, list[str]] | None = None,
    selected: set[str] | None = None,
) -> list[Row]:
    """The rows of one page; `tags` per uid, `selected` the selection (None: no checkboxes)."""
    now = now or timezone.now()
    tags = tags or {}
    rule = Rule(now)
    zone = timezone.get_current_timezone()
    # reverse() costs tens of microseconds a call: once for the page, not once a row. A uid
    # that passes UID_PATTERN needs no escaping in a path.
    detail = reverse("devices:detail", args=["__uid__"])
    out = []
    for d in devices:
        uid = d.uid
        seen = parse_time(d.last_seen_at)
        if seen is not None and seen.tzinfo is None:
            seen = seen.replace(tzinfo=zone)
        title = local_time(seen) if seen else ""
        out.append(
            Row(
                uid=uid,
                url=detail.replace("__uid__", uid) if UID_PATTERN.fullmatch(uid) else "",
                name=text(d.name),
                status=text(d.status),
                presence=rule.describe(d.is_online, d.last_seen_at, title),
                seen=seen,
                seen_text=ago(seen, now) if seen else "",
                seen_title=title,
                platform=text(d.platform),
                board=text(d.board),
                variant=text(d.board_variant),
                tags=tags.get(uid, []),
                selected=None if selected is None else uid in selected,
            )
        )
    return out


def search_for_fleet(devices: list[DeviceSummary], params: QueryDict, token) -> list[DeviceSummary]:
    """Every device (all pages) the table's query string `params` matches, in the table's
    order: what a rollout "on a search of the table" takes (fleet/sources.py)."""
    from fleet import tags

    query = DeviceQuery.from_params(params)
    tagged = frozenset(tags.uids_with(token, query.tag)) if query.tag else frozenset()
    return matching(devices, query, tagged)
