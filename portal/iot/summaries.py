"""The compact device list, typed: the one large read, decoded into msgspec structs."""

from __future__ import annotations

from typing import Any

import msgspec

from portal.display import text as _text
from portal.iot.transport import json_body


class Named(msgspec.Struct, frozen=True, gc=False):
    """A device's platform, board or board variant in the list: `{"id", "name", "key"}`."""

    key: str | None = None
    name: str | None = None
    id: int | None = None


class DeviceSummary(msgspec.Struct, frozen=True, gc=False):
    """One device of `GET /v1/user/devices`; fields the reference does not show are dropped.

    The list is read whole for every device list page (1,000 devices in the benchmark).
    Typed, it decodes in half the time of plain dicts and takes half the memory, which is
    also what the page's sort, filters and freeing walk (docs/PERFORMANCE.md). Out of the
    garbage collector's sight (`gc=False`): a summary holds only strings and `Named`s.
    """

    uid: str = ""
    name: str | None = None
    status: str | None = None
    last_seen_at: str | None = None
    platform: Named | None = None
    board: Named | None = None
    # Only ever shown as null by the reference: a string, or an object like `board` (API.md).
    board_variant: str | Named | None = None
    is_online: bool | None = None  # not in the reference's list; used when present

    @classmethod
    def lenient(cls, item: object) -> DeviceSummary | None:
        """A summary from whatever the upstream sent for one device, or None for a non-object.

        For a list that does not match the types above (a number where a name should be):
        every value becomes text, as a page would show it (portal.display), rather than
        losing the list.
        """
        if not isinstance(item, dict):
            return None

        def text(value: object) -> str | None:
            return None if value is None else _text(value)

        def named(value: object) -> Named | None:
            if value is None:
                return None
            if not isinstance(value, dict):  # a bare name, a list...: shown, not filterable
                return Named(None, text(value), None)
            ident = value.get("id")
            return Named(
                text(value.get("key")),
                text(value.get("name")),
                ident if isinstance(ident, int) and not isinstance(ident, bool) else None,
            )

        online = item.get("is_online")
        return cls(
            uid=_text(item.get("uid")),
            name=text(item.get("name")),
            status=text(item.get("status")),
            last_seen_at=text(item.get("last_seen_at")),
            platform=named(item.get("platform")),
            board=named(item.get("board")),
            board_variant=(
                named(variant)
                if isinstance(variant := item.get("board_variant"), dict)
                else text(variant)
            ),
            is_online=online if isinstance(online, bool) else None,
        )


class _DeviceListBody(msgspec.Struct):
    data: list[DeviceSummary]
    links: dict[str, Any] | None = None
    meta: Any = None


_DEVICE_LIST = msgspec.json.Decoder(_DeviceListBody)


def device_list_body(body: bytes) -> Any:
    """The list's body with `data` as DeviceSummary objects; None when it is not JSON."""
    try:
        decoded = _DEVICE_LIST.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        # Also a ValidationError: JSON, but not of the expected types. The generic reading
        # is lenient (invalid UTF-8, lone surrogates), and a device it cannot type is kept
        # with its values as text.
        generic = json_body(body)
        if isinstance(generic, dict) and isinstance(generic.get("data"), list):
            devices = (DeviceSummary.lenient(item) for item in generic["data"])
            return {**generic, "data": [d for d in devices if d is not None]}
        return generic
    return {"data": decoded.data, "links": decoded.links, "meta": decoded.meta}
