"""The one way to the upstream device API.

Every upstream call in the portal goes through an `IoTClient` built by `client_for(user)`.
This module owns the timeouts, the headers, the mapping of every failure onto a small set of
`IoTError` subclasses, retries (reads only, never writes), path-segment checks, and the
per-token read cache that stops a team sharing one token from multiplying upstream reads.

The token is held only by the client, in a name-mangled attribute that no repr, exception
or log line includes.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import IO, Any
from urllib.parse import quote, urljoin, urlsplit

import msgspec
import requests
from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from requests_toolbelt.multipart.encoder import MultipartEncoder

logger = logging.getLogger("portal.iot")

# What a cache backend raises when its server is away (Redis down, a socket error).
CACHE_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError)

# --- Errors -------------------------------------------------------------------------------


class IoTError(Exception):
    """Any failure of an upstream call. `message` is a sentence fit to show a user."""

    status: int | None = None

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class UpstreamUnavailable(IoTError):
    """No usable answer: timeout, refused or dropped connection, 5xx, a body that isn't JSON."""


class TokenRejected(IoTError):
    """The upstream refused the token (401) or forbade the action (403)."""


class NotFound(IoTError):
    """The device, button or firmware does not exist for this token (404)."""


class Rejected(IoTError):
    """The upstream refused the request with its own message: validation, device offline..."""

    def __init__(
        self, message: str, status: int | None = None, errors: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(message, status)
        self.errors = errors or {}


class RateLimited(IoTError):
    """The upstream is throttling this token (429)."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message, 429)
        self.retry_after = retry_after


class InvalidIdentifier(IoTError):
    """A uid, button id or firmware id failed its pattern; nothing was sent."""


class NoToken(IoTError):
    """The user has no API token mapped, or its key is missing; nothing was sent."""


# --- Path segments ------------------------------------------------------------------------

UID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
BUTTON_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
FIRMWARE_ID_PATTERN = re.compile(r"[0-9]{1,18}")
MD5_PATTERN = re.compile(r"[0-9a-fA-F]{32}")

MAX_FIRMWARE_BYTES = 4 * 1024 * 1024
FIRMWARE_TOO_LARGE = "The file is larger than 4 MB; the device service accepts at most 4 MB."


def _segment(value: object, pattern: re.Pattern[str], what: str) -> str:
    text = str(value) if isinstance(value, int | str) else ""
    if not pattern.fullmatch(text):
        raise InvalidIdentifier(f"That is not a valid {what}.", 400)
    return quote(text, safe="")


def check_uid(uid: str) -> str:
    return _segment(uid, UID_PATTERN, "device id")


# --- The client ---------------------------------------------------------------------------

_local = threading.local()


def _session() -> requests.Session:
    """One pooled session per thread: keep-alive without sharing a Session across threads."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False  # no proxies or .netrc credentials picked up from the host
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=8)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _local.session = session
    return session


def _message_of(body: object) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return body["message"]
    return None


def _field_errors(body: object) -> dict[str, list[str]]:
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, dict):
        return {}
    return {
        str(field): [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
        for field, msgs in errors.items()
    }


def _json(response: requests.Response) -> Any:
    """The decoded JSON body, or None when it is not JSON.

    msgspec reads the bytes directly, about twice as fast as the standard library on a
    1,000-device list (docs/PERFORMANCE.md). What it refuses (another encoding than UTF-8, a
    byte-order mark, NaN) gets requests' own decoding, so nothing it accepted is lost.
    """
    try:
        return msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        try:
            return response.json()
        except ValueError:
            return None


# --- The compact device list, typed -------------------------------------------------------


class Named(msgspec.Struct, frozen=True, gc=False):
    """A device's platform or board in the list: `{"id", "name", "key"}`."""

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
    board_variant: str | None = None
    is_online: bool | None = None  # not in the reference's list; used when present

    @classmethod
    def lenient(cls, item: object) -> DeviceSummary | None:
        """A summary from whatever the upstream sent for one device, or None for a non-object.

        For a list that does not match the types above (a number where a name should be):
        every value becomes text, as a page would show it, rather than losing the list.
        """
        if not isinstance(item, dict):
            return None

        def text(value: object) -> str | None:
            return None if value is None else str(value)

        def named(value: object) -> Named | None:
            if not isinstance(value, dict):
                return None
            ident = value.get("id")
            return Named(
                text(value.get("key")),
                text(value.get("name")),
                ident if isinstance(ident, int) and not isinstance(ident, bool) else None,
            )

        online = item.get("is_online")
        return cls(
            uid=str(item.get("uid") or ""),
            name=text(item.get("name")),
            status=text(item.get("status")),
            last_seen_at=text(item.get("last_seen_at")),
            platform=named(item.get("platform")),
            board=named(item.get("board")),
            board_variant=text(item.get("board_variant")),
            is_online=online if isinstance(online, bool) else None,
        )


class _DeviceListBody(msgspec.Struct):
    data: list[DeviceSummary]
    links: dict[str, Any] | None = None
    meta: Any = None


_DEVICE_LIST = msgspec.json.Decoder(_DeviceListBody)


def _device_list_body(response: requests.Response) -> Any:
    """The list's body with `data` as DeviceSummary objects."""
    try:
        body = _DEVICE_LIST.decode(response.content)
    except msgspec.DecodeError:  # also a ValidationError: JSON, but not of the expected types
        generic = _json(response)
        if isinstance(generic, dict) and isinstance(generic.get("data"), list):
            devices = (DeviceSummary.lenient(item) for item in generic["data"])
            return {**generic, "data": [d for d in devices if d is not None]}
        return generic
    return {"data": body.data, "links": body.links, "meta": body.meta}


def _retry_after(response: requests.Response) -> int | None:
    try:
        return max(0, int(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


class IoTClient:
    """A client of the upstream API acting with one token.

    Every method makes one upstream call (list reads may follow `next` links) and returns the
    decoded JSON, or raises an IoTError subclass. Reads are retried on connection failures
    and 502/503/504, with a short backoff; writes are never retried.
    """

    def __init__(
        self,
        token: str,
        *,
        cache_id: str | int | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        retries: int | None = None,
    ) -> None:
        self.__token = token
        self.cache_id = cache_id
        self.base_url = (base_url or settings.IOT_API_BASE_URL).rstrip("/")
        self.timeout = timeout if timeout is not None else settings.IOT_API_TIMEOUT
        self.connect_timeout = (
            connect_timeout if connect_timeout is not None else settings.IOT_API_CONNECT_TIMEOUT
        )
        self.retries = retries if retries is not None else settings.IOT_API_READ_RETRIES

    def __repr__(self) -> str:
        return f"<IoTClient {self.base_url} cache_id={self.cache_id}>"

    # -- transport ---------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        json: object = None,
        data: dict[str, str] | MultipartEncoder | None = None,
        content_type: str | None = None,
        url: str | None = None,
        timeout: float | None = None,
        decode: Callable[[requests.Response], Any] | None = None,
    ) -> Any:
        """One upstream call (reads retried); `decode` reads a success's body (default: JSON)."""
        is_read = method == "GET"
        attempts = 1 + (self.retries if is_read else 0)
        for attempt in range(1, attempts + 1):
            try:
                return self._once(
                    method, path, endpoint, json, data, content_type, url, timeout, decode
                )
            except _Retryable as retryable:
                if attempt == attempts:
                    raise retryable.error from None
                time.sleep(min(0.2 * 2 ** (attempt - 1), 1.0))
        raise AssertionError("unreachable")

    def _once(self, method, path, endpoint, json, data, content_type, url, timeout, decode) -> Any:
        headers = {"Accept": "application/json", "Authorization": f"Bearer {self.__token}"}
        if content_type:
            headers["Content-Type"] = content_type
        started = time.perf_counter()
        status: int | str = "error"
        read_timeout = timeout or self.timeout
        try:
            response = _session().request(
                method,
                url or f"{self.base_url}{path}",
                headers=headers,
                json=json,
                data=data,
                timeout=(self.connect_timeout, read_timeout),
                allow_redirects=False,
            )
            status = response.status_code
            return self._decode(response, decode)
        except requests.Timeout:
            status = "timeout"
            raise UpstreamUnavailable(
                f"The device service did not answer within {read_timeout:g} s."
            ) from None
        except requests.ConnectionError:
            status = "connection-error"
            raise _Retryable(
                UpstreamUnavailable("The device service could not be reached.")
            ) from None
        except requests.RequestException:
            raise UpstreamUnavailable("The request to the device service failed.") from None
        finally:
            logger.info(
                "upstream %s %s",
                method,
                endpoint,
                extra={
                    "upstream_endpoint": endpoint,
                    "upstream_method": method,
                    "upstream_status": status,
                    "upstream_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )

    def _decode(
        self, response: requests.Response, decode: Callable[[requests.Response], Any] | None
    ) -> Any:
        status = response.status_code
        body = decode(response) if decode and 200 <= status < 300 else _json(response)
        if 200 <= status < 300:
            if body is None:
                if status == 204 or not response.content:
                    return {}
                raise _Retryable(
                    UpstreamUnavailable(
                        "The device service sent an answer the portal could not read.", status
                    )
                )
            return body
        message = _message_of(body)
        if status == 401:
            raise TokenRejected(
                "Your API token was rejected by the device service. Ask an admin to check it.",
                status,
            )
        if status == 403:
            raise TokenRejected(message or "The device service refused this action.", status)
        if status == 404:
            raise NotFound(message or "The device service has no such item.", status)
        if status == 429:
            wait = _retry_after(response)
            when = f"in {wait} s" if wait is not None else "shortly"
            raise RateLimited(f"The device service is busy for this token; try again {when}.", wait)
        if 400 <= status < 500:
            raise Rejected(
                message or f"The device service refused the request (HTTP {status}).",
                status,
                _field_errors(body),
            )
        error = UpstreamUnavailable(f"The device service failed (HTTP {status}).", status)
        if status in (502, 503, 504):
            raise _Retryable(error)
        raise error

    def _get_list(
        self, path: str, endpoint: str, decode: Callable[[requests.Response], Any] | None = None
    ) -> list[Any]:
        """Read a list, following `next` links on the upstream's own origin."""
        items: list[Any] = []
        url: str | None = None
        for _ in range(1000):  # a hard stop against a link loop
            body = self._request("GET", path, endpoint=endpoint, url=url, decode=decode)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise UpstreamUnavailable(
                    "The device service sent an answer the portal could not read."
                )
            items.extend(item for item in data if isinstance(item, dict | DeviceSummary))
            url = self._next_link(body)
            if url is None:
                return items
        raise UpstreamUnavailable("The device service's list never ended.")

    def _next_link(self, body: dict[str, Any]) -> str | None:
        links, meta = body.get("links"), body.get("meta")
        nxt = (links or {}).get("next") if isinstance(links, dict) else None
        if not nxt and isinstance(meta, dict):
            nxt = meta.get("next")
        if not isinstance(nxt, str) or not nxt:
            return None
        absolute = urljoin(self.base_url + "/", nxt)
        # The token goes with the request: follow links on the upstream's own origin only.
        if urlsplit(absolute)[:2] != urlsplit(self.base_url)[:2]:
            raise UpstreamUnavailable("The device service sent a link to another site.")
        return absolute

    @staticmethod
    def _data(body: Any) -> dict[str, Any]:
        """Unwrap `{"data": {...}}`; accept an unwrapped object too (the reference is vague)."""
        if isinstance(body, dict) and isinstance(body.get("data"), dict):
            return body["data"]
        if isinstance(body, dict):
            return body
        raise UpstreamUnavailable("The device service sent an answer the portal could not read.")

    # -- cache -------------------------------------------------------------------------

    def _cache_key(self, *parts: str) -> str:
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

    def _cached(self, parts: tuple[str, ...], fetch: Callable[[], Any]) -> Any:
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
            return self._single_flight(self._cache_key(*parts), fetch, window)
        except CACHE_ERRORS as error:
            # Only cache calls made before the read can get here (see _single_flight).
            logger.warning("read cache unavailable (%s); reading directly", type(error).__name__)
            return fetch()

    def _single_flight(self, key: str, fetch: Callable[[], Any], window: float) -> Any:
        for _ in _waits(self.timeout + self.connect_timeout + 2):
            hit = cache.get(key)
            if hit is not None:
                return _unwrap(hit)
            if cache.add(f"{key}:lock", 1, timeout=int(self.timeout + 5)):
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

    # -- endpoints ---------------------------------------------------------------------

    def list_devices(self) -> list[DeviceSummary]:
        """GET /v1/user/devices: the compact list of the token's devices (cached)."""
        return self._cached(
            ("devices",),
            lambda: self._get_list("/v1/user/devices", "devices.list", _device_list_body),
        )

    def get_device(self, uid: str) -> dict[str, Any]:
        """GET /v1/user/devices/{uid}: one device's detail (cached)."""
        seg = check_uid(uid)
        return self._cached(
            ("device", seg),
            lambda: self._data(
                self._request("GET", f"/v1/user/devices/{seg}", endpoint="devices.detail")
            ),
        )

    def update_device(self, uid: str, **fields: str | None) -> dict[str, Any]:
        """PATCH /v1/user/devices/{uid} with name and/or description; returns the detail."""
        seg = check_uid(uid)
        body = {k: v for k, v in fields.items() if k in ("name", "description")}
        try:
            return self._data(
                self._request(
                    "PATCH", f"/v1/user/devices/{seg}", endpoint="devices.update", json=body
                )
            )
        finally:
            self.invalidate()

    def _device_action(self, uid: str, action: str, json: object = None) -> dict[str, Any]:
        seg = check_uid(uid)
        try:
            return self._request(
                "POST", f"/v1/user/devices/{seg}/{action}", endpoint=f"devices.{action}", json=json
            )
        finally:
            self.invalidate()

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

    def list_buttons(self, uid: str) -> list[dict[str, Any]]:
        """GET /v1/user/devices/{uid}/command-buttons."""
        seg = check_uid(uid)
        return self._get_list(f"/v1/user/devices/{seg}/command-buttons", "buttons.list")

    def create_button(self, uid: str, button: dict[str, Any]) -> dict[str, Any]:
        """POST /v1/user/devices/{uid}/command-buttons. Rejected on a duplicate id."""
        seg = check_uid(uid)
        return self._request(
            "POST",
            f"/v1/user/devices/{seg}/command-buttons",
            endpoint="buttons.create",
            json=button,
        )

    def delete_button(self, uid: str, button_id: str) -> dict[str, Any]:
        """DELETE /v1/user/devices/{uid}/command-buttons/{buttonId}."""
        seg = check_uid(uid)
        bid = _segment(button_id, BUTTON_ID_PATTERN, "button id")
        return self._request(
            "DELETE", f"/v1/user/devices/{seg}/command-buttons/{bid}", endpoint="buttons.delete"
        )

    def send_button(self, uid: str, button_id: str) -> dict[str, Any]:
        """POST /v1/user/devices/{uid}/command-buttons/{buttonId}/send."""
        seg = check_uid(uid)
        bid = _segment(button_id, BUTTON_ID_PATTERN, "button id")
        try:
            return self._request(
                "POST",
                f"/v1/user/devices/{seg}/command-buttons/{bid}/send",
                endpoint="buttons.send",
            )
        finally:
            self.invalidate()

    def list_firmwares(self, uid: str) -> list[dict[str, Any]]:
        """GET /v1/user/devices/{uid}/firmwares."""
        seg = check_uid(uid)
        return self._get_list(f"/v1/user/devices/{seg}/firmwares", "firmwares.list")

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
            size = _remaining(file)
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
                ("file", (safe_name, _Sized(file, size), "application/octet-stream")),
            ]
        )
        try:
            return self._data(
                self._request(
                    "POST",
                    f"/v1/user/devices/{seg}/firmwares",
                    endpoint="firmwares.upload",
                    data=body,
                    content_type=body.content_type,
                    timeout=settings.IOT_API_UPLOAD_TIMEOUT,
                )
            )
        finally:
            self.invalidate()

    def update_firmware(self, uid: str, firmware_id: int | str, **fields: str) -> dict[str, Any]:
        """PATCH /v1/user/devices/{uid}/firmwares/{firmwareId} with name, version, notes."""
        seg = check_uid(uid)
        fid = _segment(firmware_id, FIRMWARE_ID_PATTERN, "firmware id")
        body = {k: v for k, v in fields.items() if k in ("name", "version", "notes")}
        try:
            return self._data(
                self._request(
                    "PATCH",
                    f"/v1/user/devices/{seg}/firmwares/{fid}",
                    endpoint="firmwares.update",
                    json=body,
                )
            )
        finally:
            self.invalidate()

    def delete_firmware(self, uid: str, firmware_id: int | str) -> dict[str, Any]:
        """DELETE /v1/user/devices/{uid}/firmwares/{firmwareId}; refused while assigned."""
        seg = check_uid(uid)
        fid = _segment(firmware_id, FIRMWARE_ID_PATTERN, "firmware id")
        try:
            return self._request(
                "DELETE", f"/v1/user/devices/{seg}/firmwares/{fid}", endpoint="firmwares.delete"
            )
        finally:
            self.invalidate()

    def set_target(self, uid: str, md5: str) -> dict[str, Any]:
        """POST /v1/user/devices/{uid}/firmwares/set-target with `{"md5"}`."""
        seg = check_uid(uid)
        if not isinstance(md5, str) or not MD5_PATTERN.fullmatch(md5):
            raise InvalidIdentifier("That is not a valid firmware md5.", 400)
        try:
            return self._request(
                "POST",
                f"/v1/user/devices/{seg}/firmwares/set-target",
                endpoint="firmwares.set_target",
                json={"md5": md5.lower()},
            )
        finally:
            self.invalidate()


def _remaining(file: IO[bytes]) -> int:
    """Bytes from a handle's position to its end, leaving the position where it was."""
    position = file.tell()
    end = file.seek(0, io.SEEK_END)
    file.seek(position)
    return end - position


class _Sized:
    """A readable handle that tells MultipartEncoder how much is left to stream.

    The encoder asks `len` for the bytes still to come, the way its own buffers answer.
    """

    def __init__(self, file: IO[bytes], size: int) -> None:
        self._file = file
        self._left = size

    @property
    def len(self) -> int:
        return self._left

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size if size is not None and size >= 0 else self._left)
        if not chunk:
            self._left = 0  # the handle ended early; the upstream will see a short file
        self._left = max(0, self._left - len(chunk))
        return chunk


class _Retryable(Exception):
    """Carries an error that a read may retry; never leaves this module."""

    def __init__(self, error: IoTError) -> None:
        self.error = error


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


def probe_upstream() -> float:
    """Whether the upstream answers at all, and in how many milliseconds; for /readyz.

    The request carries no token (there is none to use here): any HTTP answer below 500, the
    expected 401 included, proves the upstream reachable. Raises UpstreamUnavailable otherwise.
    """
    started = time.perf_counter()
    status: int | str = "error"
    try:
        response = _session().get(
            f"{settings.IOT_API_BASE_URL}/v1/user/devices",
            headers={"Accept": "application/json"},
            timeout=(settings.IOT_API_CONNECT_TIMEOUT, min(settings.IOT_API_TIMEOUT, 5.0)),
            allow_redirects=False,
        )
        status = response.status_code
    except requests.Timeout:
        status = "timeout"
        raise UpstreamUnavailable("The device service did not answer in time.") from None
    except requests.RequestException:
        status = "connection-error"
        raise UpstreamUnavailable("The device service could not be reached.") from None
    finally:
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        logger.info(
            "upstream GET probe",
            extra={
                "upstream_endpoint": "probe",
                "upstream_method": "GET",
                "upstream_status": status,
                "upstream_ms": elapsed,
            },
        )
    if status >= 500:
        raise UpstreamUnavailable(f"The device service failed (HTTP {status}).", status)
    return elapsed


def client_for(user) -> IoTClient:
    """The client for a signed-in user, with their mapped token decrypted in memory only.

    Raises NoToken when no token is mapped or no configured key can decrypt it.
    """
    from django.contrib.auth import get_user_model

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
    return IoTClient(plaintext, cache_id=token.pk)
