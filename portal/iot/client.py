"""`IoTClient`: one method per upstream endpoint, acting with one token.

Reads may be shared through the token's read cache; every write goes through `_write`, which
makes the one call and then forgets the token's cached reads, whatever the answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import IO, Any

from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from requests_toolbelt.multipart.encoder import MultipartEncoder

from portal.iot.cache import ReadCache
from portal.iot.errors import NoToken, Rejected, UpstreamUnavailable
from portal.iot.segments import (
    BUTTON_ID_PATTERN,
    FIRMWARE_ID_PATTERN,
    FIRMWARE_TOO_LARGE,
    MAX_FIRMWARE_BYTES,
    check_md5,
    check_uid,
    segment,
)
from portal.iot.summaries import DeviceSummary, device_list_body
from portal.iot.transport import UNREADABLE, Sized, Transport, remaining

logger = logging.getLogger("portal.iot")


def _data(body: Any) -> dict[str, Any]:
    """Unwrap `{"data": {...}}`; accept an unwrapped object too (the reference is vague)."""
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        return body["data"]
    if isinstance(body, dict):
        return body
    raise UpstreamUnavailable(UNREADABLE)


def _with_usable_ids(
    items: list[Any], pattern: re.Pattern[str], endpoint: str
) -> list[dict[str, Any]]:
    """The items whose `id` can go into a path; the others are counted in a log line."""
    usable = [
        item
        for item in items
        if isinstance(ident := item.get("id"), int | str)
        and not isinstance(ident, bool)
        and pattern.fullmatch(str(ident))
    ]
    if len(usable) < len(items):
        logger.warning(
            "upstream %s: %d item(s) without a usable id left out",
            endpoint,
            len(items) - len(usable),
            extra={"upstream_endpoint": endpoint},
        )
    return usable


class IoTClient:
    """A client of the upstream API acting with one token.

    Every method makes one upstream call (list reads may follow `next` links) and returns the
    decoded JSON, or raises an IoTError subclass. Reads are retried on connection failures
    and 502/503/504, with a short backoff; writes are never retried.
    """

    @sensitive_variables("token")
    def __init__(
        self,
        token: str,
        *,
        cache_id: str | int | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        retries: int | None = None,
        invalidate_on_write: bool = True,
    ) -> None:
        # False: the caller forgets the token's cached reads itself after each write (fleet
        # work does, inside the transaction that records the write: one write fewer).
        self._invalidate_on_write = invalidate_on_write
        self._transport = Transport(
            token,
            base_url=base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            retries=retries,
        )
        # A waiter gives up a little after the reader's own deadline would have ended it.
        wait = self._transport.timeout + 2
        self._cache = ReadCache(cache_id, wait_limit=wait)

    def __repr__(self) -> str:
        return f"<IoTClient {self._transport.base_url} cache_id={self._cache.cache_id}>"

    @property
    def cache_id(self) -> str | int | None:
        """The token's id (never its value) that its cached reads are kept under."""
        return self._cache.cache_id

    def invalidate(self) -> None:
        """Forget every cached read for this token (after a write)."""
        self._cache.invalidate()

    def _read(self, path: str, endpoint: str) -> Any:
        return self._transport.request("GET", path, endpoint=endpoint)

    def _write(self, method: str, path: str, *, endpoint: str, **options: Any) -> Any:
        """One write: never retried, and the token's cached reads are stale after it."""
        try:
            return self._transport.request(method, path, endpoint=endpoint, **options)
        finally:
            if self._invalidate_on_write:
                self.invalidate()

    # -- devices -----------------------------------------------------------------------

    def list_devices(self) -> list[DeviceSummary]:
        """GET /v1/user/devices: the compact list of the token's devices (cached)."""
        return self._cache.read(
            ("devices",),
            lambda: self._transport.get_list("/v1/user/devices", "devices.list", device_list_body),
        )

    def get_device(self, uid: str) -> dict[str, Any]:
        """GET /v1/user/devices/{uid}: one device's detail (cached)."""
        return self.device_read(uid)()

    def device_read(self, uid: str) -> Callable[[], dict[str, Any]]:
        """`get_device(uid)` to be made later, in any thread (the read pool's rule): what it
        needs of the database (the read cache's key) is worked out now."""
        seg = check_uid(uid)
        return self._cache.prepared(
            ("device", seg),
            lambda: _data(self._read(f"/v1/user/devices/{seg}", "devices.detail")),
        )

    def update_device(self, uid: str, **fields: str | None) -> dict[str, Any]:
        """PATCH /v1/user/devices/{uid} with name and/or description; returns the detail."""
        seg = check_uid(uid)
        body = {k: v for k, v in fields.items() if k in ("name", "description")}
        return _data(
            self._write("PATCH", f"/v1/user/devices/{seg}", endpoint="devices.update", json=body)
        )

    def _device_action(self, uid: str, action: str, json: object = None) -> dict[str, Any]:
        seg = check_uid(uid)
        return self._write(
            "POST", f"/v1/user/devices/{seg}/{action}", endpoint=f"devices.{action}", json=json
        )

    def reboot(self, uid: str) -> dict[str, Any]:
        """POST /v1/user/devices/{uid}/reboot: `{"message", "device_uid"}`."""
        return self._device_action(uid, "reboot")

    def wifi_reset(self, uid: str) -> dict[str, Any]:
        """POST /v1/user/devices/{uid}/wifi-reset: `{"message", "device_uid"}`."""
        return self._device_action(uid, "wifi-reset")

    def trigger_ota(self, uid: str) -> dict[str, Any]:
        """POST /v1/user/devices/{uid}/ota. Rejected: "Assign firmware first to trigger OTA."."""
        return self._device_action(uid, "ota")

    def send_command(self, uid: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST /v1/user/devices/{uid}/commands with `{"payload": {...}}`."""
        return self._device_action(uid, "commands", json={"payload": payload})

    # -- command buttons ---------------------------------------------------------------

    def list_buttons(self, uid: str) -> list[dict[str, Any]]:
        """GET /v1/user/devices/{uid}/command-buttons: the buttons that can be sent.

        A button without a usable id (missing, or not of the id pattern) could be neither
        sent nor deleted through the API, so it is left out (and logged), not drawn broken.
        """
        seg = check_uid(uid)
        items = self._transport.get_list(f"/v1/user/devices/{seg}/command-buttons", "buttons.list")
        return _with_usable_ids(items, BUTTON_ID_PATTERN, "buttons.list")

    def create_button(self, uid: str, button: dict[str, Any]) -> dict[str, Any]:
        """POST /v1/user/devices/{uid}/command-buttons. Rejected on a duplicate id."""
        seg = check_uid(uid)
        return self._write(
            "POST",
            f"/v1/user/devices/{seg}/command-buttons",
            endpoint="buttons.create",
            json=button,
        )

    def delete_button(self, uid: str, button_id: str) -> dict[str, Any]:
        """DELETE /v1/user/devices/{uid}/command-buttons/{buttonId}."""
        seg = check_uid(uid)
        bid = segment(button_id, BUTTON_ID_PATTERN, "button id")
        return self._write(
            "DELETE", f"/v1/user/devices/{seg}/command-buttons/{bid}", endpoint="buttons.delete"
        )

    def send_button(self, uid: str, button_id: str) -> dict[str, Any]:
        """POST /v1/user/devices/{uid}/command-buttons/{buttonId}/send."""
        seg = check_uid(uid)
        bid = segment(button_id, BUTTON_ID_PATTERN, "button id")
        return self._write(
            "POST", f"/v1/user/devices/{seg}/command-buttons/{bid}/send", endpoint="buttons.send"
        )

    # -- firmware ----------------------------------------------------------------------

    def list_firmwares(self, uid: str) -> list[dict[str, Any]]:
        """GET /v1/user/devices/{uid}/firmwares: the firmware that can be acted on.

        As with buttons, a firmware without a usable numeric id is left out (and logged).
        """
        seg = check_uid(uid)
        items = self._transport.get_list(f"/v1/user/devices/{seg}/firmwares", "firmwares.list")
        return _with_usable_ids(items, FIRMWARE_ID_PATTERN, "firmwares.list")

    def upload_firmware(
        self,
        uid: str,
        *,
        name: str,
        file: IO[bytes],
        filename: str = "firmware.bin",
        version: str = "",
        notes: str = "",
        size: int | None = None,
    ) -> dict[str, Any]:
        """POST /v1/user/devices/{uid}/firmwares (multipart). Returns the firmware object.

        The file is streamed from its handle in chunks by requests-toolbelt's MultipartEncoder,
        never read whole (requests' own multipart encoding would hold two copies of it).
        Files over 4 MB are refused before anything is sent; `size` defaults to what the
        handle's seek reports.
        """
        seg = check_uid(uid)
        if size is None:
            size = remaining(file)
        if size > MAX_FIRMWARE_BYTES:
            raise Rejected(FIRMWARE_TOO_LARGE, 413, {"file": [FIRMWARE_TOO_LARGE]})
        fields = {"name": name}
        if version:
            fields["version"] = version
        if notes:
            fields["notes"] = notes
        safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:100] or "firmware.bin"
        body = MultipartEncoder(
            [
                *fields.items(),
                ("file", (safe_name, Sized(file, size), "application/octet-stream")),
            ]
        )
        return _data(
            self._write(
                "POST",
                f"/v1/user/devices/{seg}/firmwares",
                endpoint="firmwares.upload",
                data=body,
                content_type=body.content_type,
                timeout=settings.IOT_API_UPLOAD_TIMEOUT,
            )
        )

    def update_firmware(self, uid: str, firmware_id: int | str, **fields: str) -> dict[str, Any]:
        """PATCH /v1/user/devices/{uid}/firmwares/{firmwareId} with name, version, notes."""
        seg = check_uid(uid)
        fid = segment(firmware_id, FIRMWARE_ID_PATTERN, "firmware id")
        body = {k: v for k, v in fields.items() if k in ("name", "version", "notes")}
        return _data(
            self._write(
                "PATCH",
                f"/v1/user/devices/{seg}/firmwares/{fid}",
                endpoint="firmwares.update",
                json=body,
            )
        )

    def delete_firmware(self, uid: str, firmware_id: int | str) -> dict[str, Any]:
        """DELETE /v1/user/devices/{uid}/firmwares/{firmwareId}; refused while assigned."""
        seg = check_uid(uid)
        fid = segment(firmware_id, FIRMWARE_ID_PATTERN, "firmware id")
        return self._write(
            "DELETE", f"/v1/user/devices/{seg}/firmwares/{fid}", endpoint="firmwares.delete"
        )

    def set_target(self, uid: str, md5: str) -> dict[str, Any]:
        """POST /v1/user/devices/{uid}/firmwares/set-target with `{"md5"}`."""
        seg = check_uid(uid)
        body = {"md5": check_md5(md5)}
        return self._write(
            "POST",
            f"/v1/user/devices/{seg}/firmwares/set-target",
            endpoint="firmwares.set_target",
            json=body,
        )


@sensitive_variables("plaintext")
def client_for(user) -> IoTClient:
    """The client for a signed-in user, with their mapped token decrypted in memory only.

    Raises NoToken when no token is mapped or no configured key can decrypt it.
    """
    from django.contrib.auth import get_user_model

    from portal import storable
    from portal.crypto import TokenUndecryptable
    from portal.models import Profile

    # request.user is a lazy wrapper, so ask the user model, not type(user).
    if get_user_model().portal_profile.is_cached(user):  # loaded with it by portal.backends
        profile = getattr(user, "portal_profile", None)
    else:
        profile = Profile.objects.select_related("token").filter(user=user).first()
    token = profile.token if profile else None
    if token is None:
        raise NoToken(
            "No API token is mapped to your account yet. Ask an admin to assign one.", 403
        )
    try:
        plaintext = token.value()
    except TokenUndecryptable:
        logger.error("token %s cannot be decrypted with the configured keys", token.label)
        raise NoToken(
            f"The API token “{token.label}” cannot be read with the portal's current keys. "
            "An admin must restore the key or enter the token again.",
            503,
        ) from None
    if storable.token_problem(plaintext):
        # Stored before tokens were checked at entry: say so on every page, never a 500.
        logger.error("token %s holds characters an HTTP header cannot carry", token.label)
        raise NoToken(
            f"The API token “{token.label}” holds characters an HTTP header cannot carry. "
            "An admin must enter the token again.",
            503,
        )
    return IoTClient(plaintext, cache_id=token.pk)
