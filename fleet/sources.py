"""Where a rollout's devices come from: the user's selection, a tag, or a search of the
device table (its address's query string), each resolved against the fleet's device list now.

The table's search is the devices app's (devices/listing.py): fleet depends only on the core,
so the devices app registers its matcher here (devices/apps.py), as fleet registers its worker
count with the core's /readyz.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.http import HttpRequest, QueryDict

from fleet import selection, tags
from portal import storable
from portal.iot import UID_PATTERN, DeviceSummary, IoTError, client_for
from portal.models import ApiToken

SELECTION, TAG, SEARCH = "selection", "tag", "search"
CHOICES = [
    (SELECTION, "The devices selected in the table"),
    (TAG, "The devices with a tag"),
    (SEARCH, "The devices a search of the table finds"),
]
# (devices, the table's query string, the token) -> the devices it matches, in table order.
Matcher = Callable[[list[DeviceSummary], QueryDict, ApiToken], Sequence[DeviceSummary]]
_matcher: list[Matcher] = []


def register_search(matcher: Matcher) -> None:
    """The devices app's search of its table (called once, from its AppConfig.ready)."""
    _matcher[:] = [matcher]


def query_of(text: str) -> QueryDict:
    """The query string of a table address as pasted ("/devices/?q=pump&online=no"), or a bare
    query string ("q=pump"); the page number is dropped (a search means every page)."""
    text = (text or "").strip()
    if "?" in text:
        text = text.split("?", 1)[1]
    elif text.startswith(("http://", "https://", "/")):
        text = urlsplit(text).query
    params = QueryDict(text, mutable=True)
    params.pop("page", None)
    return params


@dataclass
class Chosen:
    """The devices a source names, as the fleet's device list has them now."""

    devices: list[tuple[str, str]] = field(default_factory=list)  # uid, name
    gone: int = 0  # named, but not (or no longer) in the fleet
    error: IoTError | None = None


def resolve(
    request: HttpRequest, token: ApiToken, source: str, tag: str = "", search: str = ""
) -> Chosen:
    """The devices of `source` (one read of the device list upstream)."""
    try:
        listed = client_for(request.user).list_devices()
    except IoTError as error:
        return Chosen(error=error)
    by_uid = {device.uid: device for device in listed}
    if source == SEARCH:
        if not _matcher:
            return Chosen()
        found = list(_matcher[0](listed, query_of(search), token))
        return Chosen([(d.uid, storable.text(d.name or "", 100)) for d in found])
    if source == TAG:
        wanted = sorted(tags.uids_with(token, tag))
    else:
        wanted = selection.get(request, token.pk)
    chosen = Chosen()
    for uid in wanted:
        device = by_uid.get(uid)
        if device is None or not UID_PATTERN.fullmatch(uid):
            chosen.gone += 1
            continue
        chosen.devices.append((uid, storable.text(device.name or "", 100)))
    if source == TAG:  # the table's order, by name
        chosen.devices.sort(key=lambda d: (d[1].casefold(), d[0]))
    return chosen
