"""Whether a device is online: one rule for the table, its filter and sort, and the detail page.

The upstream's own flag, `is_online`, is used wherever an answer carries it: the detail
always does, the compact list does not (API.md). Without it the only evidence is
`last_seen_at`: a device seen within `PORTAL_ONLINE_WINDOW_SECONDS` is "Seen recently", and
says so, rather than "Online". The status word is never read: the reference shows only
"pending", and what the other words mean is the upstream's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from portal.display import parse_time


@dataclass(frozen=True, slots=True)
class Presence:
    online: bool  # what the Online filter and sort go by: online, or seen recently
    label: str  # "Online", "Offline", "Seen recently" or "Not seen recently"
    title: str  # on hover: where the label comes from


class Rule:
    """The rule, worked out once for a page: the window, and the moment it starts.

    A table builds one and asks it about every device: reading the setting and formatting
    the window once, not once a device (the list page must stay within 15 % of a bare read).
    """

    def __init__(self, now: datetime | None = None) -> None:
        window = settings.PORTAL_ONLINE_WINDOW_SECONDS
        self.since = (now or timezone.now()) - timedelta(seconds=window)
        self.window = _span(window)

    def online(self, flag: object, last_seen_at: object) -> bool:
        """Online, or seen recently: what the filter and the sort go by."""
        if isinstance(flag, bool):
            return flag
        seen = _seen(last_seen_at)
        return seen is not None and seen >= self.since

    def describe(self, flag: object, last_seen_at: object, when: str | None = None) -> Presence:
        """The rule with its label and the hover text that says where the label comes from.

        `when` is the last-seen time as the page already shows it on hover, when it has it.
        """
        if isinstance(flag, bool):
            word = "online" if flag else "offline"
            return Presence(flag, word.capitalize(), f"The device service reports it {word}.")
        seen = _seen(last_seen_at)
        if seen is None:
            return Presence(False, "Not seen recently", "Never seen by the device service.")
        recent = seen >= self.since
        return Presence(
            recent,
            "Seen recently" if recent else "Not seen recently",
            f"Last seen {when or local_time(seen)}, {'less' if recent else 'more'} than "
            f"{self.window} ago. The device list does not say whether a device is online; "
            "its own page does.",
        )


def presence(flag: object, last_seen_at: object) -> Presence:
    """The rule for one device (its page): `Rule().describe(...)`."""
    return Rule().describe(flag, last_seen_at)


def local_time(moment: datetime) -> str:
    """The viewer's local time with its zone, "2026-11-26 14:03:09 CET": the isoformat way,
    about twenty times cheaper than strftime with %Z on a zoneinfo time."""
    local = moment.astimezone(timezone.get_current_timezone())
    return f"{local.isoformat(sep=' ', timespec='seconds')[:19]} {local.tzname() or ''}".rstrip()


def _seen(last_seen_at: object) -> datetime | None:
    at = parse_time(last_seen_at)
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=timezone.get_current_timezone())
    return at


def _span(seconds: int) -> str:
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"
