"""The HTTP transport: one pooled session per thread, the limits, the status-code mapping.

Every byte to and from the upstream passes through `Transport.request`. The upstream is not
trusted with the portal's resources, so every call is bounded:

- a total deadline (connect, headers and body; every page and retry of a list read shares
  one), enforced by a watchdog that shuts the call's socket when it passes, so a server
  trickling bytes cannot hold a worker past it;
- a maximum body size, counted on the decoded bytes (a gzip bomb stops at the limit), read
  in small chunks so a worker never holds more than the limit;
- a maximum number of list pages, and a `next` link seen before ends the list;
- JSON decoded leniently (invalid UTF-8 and lone surrogates become U+FFFD), and an answer
  that cannot be used at all (too deep, too big, not JSON) ends as one clear message.

Reads are retried on connection failures and 502/503/504 with a short backoff; writes never
are. A write sent whose answer never came raises OutcomeUnknown. Bodies are never logged.
"""

from __future__ import annotations

import contextlib
import heapq
import io
import itertools
import json as jsonlib
import logging
import os
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import msgspec
import requests
import urllib3
from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from requests_toolbelt.multipart.encoder import MultipartEncoder
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from portal.iot.errors import (
    IoTError,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    TokenRejected,
    UpstreamUnavailable,
)

logger = logging.getLogger("portal.iot")

UNREADABLE = "The device service sent an answer the portal could not read."
NO_ANSWER = (
    "No answer came from the device service, so it is not known whether this action happened: "
    "check the device before trying again."
)
UNREAD_ANSWER = (
    "The device service's answer could not be read, so it is not known whether this action "
    "happened: check the device before trying again."
)
UNREACHABLE = "The device service could not be reached."

CHUNK = 64 * 1024  # bytes read, and at most inflated, at a time

_local = threading.local()


# --- the deadline watchdog -------------------------------------------------------------------


class Deadline:
    """The monotonic moment one call (all its pages and retries) must be over by."""

    __slots__ = ("at", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()


class _Watch:
    """One attempt's deadline and the socket to shut when it passes."""

    __slots__ = ("at", "done", "fired", "sock")

    def __init__(self, at: float) -> None:
        self.at = at
        self.sock: socket.socket | None = None
        self.fired = False
        self.done = False


def _shut(sock: socket.socket) -> None:
    # socket.socket's own shutdown, also for a TLS socket: it wakes a blocked recv or send at
    # once without touching the TLS object another thread may be using.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread that shuts the socket of every attempt past its deadline.

    A socket timeout bounds one recv only: a server sending a byte a second never trips it,
    and urllib3 reads a chunk in many recvs. Shutting the socket ends whatever is blocked.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, at: float) -> _Watch:
        watch = _Watch(at)
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="iot-deadline", daemon=True)
                self._thread.start()
            earliest = not self._heap or at < self._heap[0][0]
            heapq.heappush(self._heap, (at, next(self._order), watch))
            if earliest:
                self._cond.notify()
        return watch

    def attach(self, watch: _Watch, sock: socket.socket) -> None:
        with self._cond:
            if watch.done:
                return
            watch.sock = sock
            if watch.fired:
                _shut(sock)

    def finish(self, watch: _Watch) -> None:
        with self._cond:
            watch.done = True
            watch.sock = None

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    _, _, watch = heapq.heappop(self._heap)
                    if not watch.done:
                        watch.fired = True
                        if watch.sock is not None:
                            _shut(watch.sock)
                self._cond.wait(self._heap[0][0] - now if self._heap else None)


_WATCHDOG = _Watchdog()
# A forked worker has no watchdog thread, and must not inherit a lock held at the fork.
os.register_at_fork(after_in_child=_WATCHDOG.__init__)


def _attach_current(sock: socket.socket | None) -> None:
    watch = getattr(_local, "watch", None)
    if watch is not None and sock is not None:
        _WATCHDOG.attach(watch, sock)


class _Watched:
    """Hands its socket to the current attempt's watch, new or reused (a connection mixin)."""

    sock: socket.socket | None

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _attach_current(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach_current(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _WatchedTLSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedTLSConnection


class _Adapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}


def session() -> requests.Session:
    """One pooled session per thread: keep-alive without sharing a Session across threads."""
    current = getattr(_local, "session", None)
    if current is None:
        current = requests.Session()
        current.trust_env = False  # no proxies or .netrc credentials picked up from the host
        adapter = _Adapter(pool_connections=4, pool_maxsize=8)
        current.mount("http://", adapter)
        current.mount("https://", adapter)
        _local.session = current
    return current


# --- bodies --------------------------------------------------------------------------------


class Unusable(Exception):
    """The answer arrived but cannot be used; `limit` names what was hit, for the log."""

    def __init__(self, limit: str) -> None:
        super().__init__(limit)
        self.limit = limit


class _Late(Exception):
    """The deadline passed while the body was coming."""


class _Cut(Exception):
    """The connection broke while the body was coming."""


def _inflater(encoding: str) -> Callable[[bytes], Iterator[bytes]] | None:
    """A decoder for the body's Content-Encoding that never inflates more than CHUNK at once."""
    if encoding in ("", "identity"):
        return None
    if encoding not in ("gzip", "x-gzip", "deflate"):
        # The portal asks for gzip or deflate only; anything else it cannot read.
        raise Unusable("content-encoding")
    wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
    state = {"d": zlib.decompressobj(wbits), "started": False}

    def inflate(data: bytes) -> Iterator[bytes]:
        while data:
            d = state["d"]
            try:
                piece = d.decompress(data, CHUNK)
            except zlib.error:
                if encoding == "deflate" and not state["started"]:
                    # Some servers send raw deflate without the zlib header.
                    state["d"] = zlib.decompressobj(-zlib.MAX_WBITS)
                    state["started"] = True
                    continue
                raise Unusable("content-encoding data") from None
            state["started"] = True
            if piece:
                yield piece
            data = d.unconsumed_tail
            if d.eof and d.unused_data:  # another gzip member follows
                data = d.unused_data
                state["d"] = zlib.decompressobj(wbits)

    return inflate


def read_body(response: requests.Response, deadline: Deadline, limit: int) -> bytes:
    """The decoded body, at most `limit` bytes of it, before the deadline.

    Raises Unusable when the body is over the limit or cannot be decoded, _Late when the
    deadline passes, _Cut when the connection breaks.
    """
    length = response.headers.get("Content-Length", "")
    inflate = _inflater(response.headers.get("Content-Encoding", "").strip().lower())
    if inflate is None and length.isdigit() and int(length) > limit:
        raise Unusable("body size")
    body = io.BytesIO()
    size = 0
    try:
        for chunk in response.raw.stream(CHUNK, decode_content=False):
            for piece in inflate(chunk) if inflate else (chunk,):
                size += len(piece)
                if size > limit:
                    raise Unusable("body size")
                body.write(piece)
            if deadline.left() <= 0:
                raise _Late
    except (urllib3.exceptions.HTTPError, OSError, requests.RequestException):
        if deadline.left() <= 0:
            raise _Late from None
        raise _Cut from None
    return body.getvalue()


_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def json_body(body: bytes) -> Any:
    """The decoded JSON body, or None when it is not JSON the portal can use.

    msgspec reads the bytes directly, about twice as fast as the standard library on a
    1,000-device list (docs/PERFORMANCE.md). What it refuses (invalid UTF-8, a lone
    surrogate, another encoding than UTF-8, a byte-order mark, NaN, nesting deeper than the
    stack) is read leniently instead, so nothing usable is lost.
    """
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return lenient_json(body)


def lenient_json(body: bytes) -> Any:
    """JSON with every invalid byte and lone surrogate turned into U+FFFD, keys included.

    A string a page cannot encode (one button named with a lone surrogate) would otherwise
    break every page that shows it. Too deep, not JSON at all: None.
    """
    try:
        text = body.decode(jsonlib.detect_encoding(body), errors="replace")
        value = jsonlib.loads(text)
    except (ValueError, RecursionError, LookupError):
        return None
    if _SURROGATE_ESCAPE.search(text):
        value = _without_surrogates(value)
    return value


def _clean(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)


def _without_surrogates(value: Any) -> Any:
    """`value` with lone surrogates replaced in every string; iterative, for any depth."""
    if isinstance(value, str):
        return _clean(value)
    stack = [value]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        cleaned = []
        for key, item in items:
            if isinstance(item, str):
                item = _clean(item)
            elif isinstance(item, dict | list):
                stack.append(item)
            cleaned.append((_clean(key) if isinstance(key, str) else key, item))
        if isinstance(node, dict):
            node.clear()
            node.update(cleaned)
        else:
            node[:] = [item for _, item in cleaned]
    return value


MESSAGE_LIMIT = 500  # characters of one upstream message kept: shown word for word, stored


def _message(text: str) -> str:
    """An upstream message fit to show and store: no NUL, at most MESSAGE_LIMIT long."""
    text = text.replace("\x00", "\ufffd")
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def message_of(body: object) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return _message(body["message"])
    return None


def field_errors(body: object) -> dict[str, list[str]]:
    """The upstream's messages per field; only text, and a bounded number of both."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, dict):
        return {}
    return {
        _message(str(field))[:100]: [
            _message(m)
            for m in (msgs if isinstance(msgs, list) else [msgs])[:10]
            if isinstance(m, str)
        ]
        for field, msgs in list(errors.items())[:50]
    }


def retry_after(headers: Any) -> int | None:
    try:
        return max(0, int(headers.get("Retry-After", "")))
    except ValueError:
        return None


class Retryable(Exception):
    """Carries an error that a read may retry; never leaves this package."""

    def __init__(self, error: IoTError) -> None:
        self.error = error


Decoder = Callable[[bytes], Any]


def _sent_nothing(error: requests.ConnectionError) -> bool:
    """Whether a connection error happened before any byte of the request left."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, urllib3.exceptions.NewConnectionError)  # refused, DNS, timeout


class Transport:
    """Calls to one upstream with one token. The token is held in a name-mangled attribute
    that no repr, exception or log line includes."""

    @sensitive_variables("token")
    def __init__(
        self,
        token: str,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        retries: int | None = None,
    ) -> None:
        self.__token = token
        self.base_url = (base_url or settings.IOT_API_BASE_URL).rstrip("/")
        # The total deadline of one call: connect, headers, body, every retry and page.
        self.timeout = timeout if timeout is not None else settings.IOT_API_TIMEOUT
        self.connect_timeout = (
            connect_timeout if connect_timeout is not None else settings.IOT_API_CONNECT_TIMEOUT
        )
        self.retries = retries if retries is not None else settings.IOT_API_READ_RETRIES

    def __repr__(self) -> str:
        return f"<Transport {self.base_url}>"

    def request(
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
        decode: Decoder | None = None,
        deadline: Deadline | None = None,
    ) -> Any:
        """One upstream call (reads retried) within `deadline` (default: `timeout` from now).

        `decode` reads a success's body (default: JSON).
        """
        deadline = deadline or Deadline(timeout or self.timeout)
        is_read = method == "GET"
        attempts = 1 + (self.retries if is_read else 0)
        for attempt in range(1, attempts + 1):
            try:
                return self._once(
                    method, path, endpoint, json, data, content_type, url, deadline, decode
                )
            except Retryable as retryable:
                pause = min(0.2 * 2 ** (attempt - 1), 1.0)
                if attempt == attempts or deadline.left() <= pause:
                    raise retryable.error from None
                time.sleep(pause)
        raise AssertionError("unreachable")

    @sensitive_variables("headers")
    def _once(self, method, path, endpoint, json, data, content_type, url, deadline, decode) -> Any:
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",  # the encodings read_body can bound
            "Authorization": f"Bearer {self.__token}",
        }
        if content_type:
            headers["Content-Type"] = content_type
        started = time.perf_counter()
        log = {"status": "error", "limit": None}
        is_write = method != "GET"
        left = deadline.left()
        if left <= 0:
            log["status"] = "deadline"
            raise self._late(deadline, is_write, sent=False)
        watch = _WATCHDOG.watch(deadline.at)
        _local.watch = watch
        response = None
        try:
            try:
                response = session().request(
                    method,
                    url or f"{self.base_url}{path}",
                    headers=headers,
                    json=json,
                    data=data,
                    timeout=(min(self.connect_timeout, left), left),
                    allow_redirects=False,
                    stream=True,
                )
            except requests.ConnectionError as error:
                if _sent_nothing(error):
                    log["status"] = "connection-error"
                    raise Retryable(UpstreamUnavailable(UNREACHABLE)) from None
                if watch.fired or deadline.left() <= 0:
                    log["status"] = "deadline"
                    raise self._late(deadline, is_write, sent=True) from None
                log["status"] = "connection-error"
                if is_write:
                    raise OutcomeUnknown(NO_ANSWER) from None
                raise Retryable(UpstreamUnavailable(UNREACHABLE)) from None
            except requests.Timeout:
                log["status"] = "timeout"
                raise self._late(deadline, is_write, sent=True) from None
            except requests.RequestException:
                raise UpstreamUnavailable("The request to the device service failed.") from None
            status = log["status"] = response.status_code
            try:
                body = read_body(response, deadline, settings.IOT_API_MAX_BODY_BYTES)
            except _Late:
                log["status"] = "deadline"
                raise self._late(deadline, is_write, sent=True) from None
            except _Cut:
                log["status"] = f"{status}-cut"
                body = None
                if not 400 <= status < 500:  # a refusal stays one, message or not
                    if is_write:
                        raise OutcomeUnknown(NO_ANSWER, status) from None
                    raise Retryable(UpstreamUnavailable(UNREACHABLE)) from None
            except Unusable as unusable:
                log["limit"] = unusable.limit
                body = None
                if 200 <= status < 300:
                    raise self._unusable(is_write, status) from None
            return self._decode(status, response.headers, body, decode, is_write)
        finally:
            _WATCHDOG.finish(watch)
            _local.watch = None
            if response is not None:
                response.close()  # a no-op once the body was read whole and the connection freed
            extra = {
                "upstream_endpoint": endpoint,
                "upstream_method": method,
                "upstream_status": log["status"],
                "upstream_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            if log["limit"]:
                extra["upstream_limit"] = log["limit"]
                logger.warning(
                    "upstream %s %s answer unusable: %s (IOT_API_MAX_BODY_BYTES=%d)",
                    method,
                    endpoint,
                    log["limit"],
                    settings.IOT_API_MAX_BODY_BYTES,
                    extra=extra,
                )
            else:
                logger.info("upstream %s %s", method, endpoint, extra=extra)

    @staticmethod
    def _late(deadline: Deadline, is_write: bool, *, sent: bool) -> IoTError:
        if is_write and sent:
            return OutcomeUnknown(NO_ANSWER)
        return UpstreamUnavailable(
            f"The device service did not answer within {deadline.seconds:g} s."
        )

    @staticmethod
    def _unusable(is_write: bool, status: int) -> IoTError:
        # A write the upstream accepted (2xx) but whose answer cannot be read did happen, or
        # not: the portal cannot tell, so it never reports it as failed.
        if is_write:
            return OutcomeUnknown(UNREAD_ANSWER, status)
        return UpstreamUnavailable(UNREADABLE, status)

    def _decode(
        self, status: int, headers: Any, raw: bytes | None, decode: Decoder | None, is_write: bool
    ) -> Any:
        success = 200 <= status < 300
        if raw is None:
            body = None
        else:
            try:
                body = decode(raw) if decode and success else json_body(raw)
            except Exception as error:  # no decoding failure may become a 500
                logger.warning("upstream answer undecodable (%s)", type(error).__name__)
                body = None
        if success:
            if body is None:
                if status == 204 or not raw:
                    return {}
                if is_write:
                    raise OutcomeUnknown(UNREAD_ANSWER, status)
                raise Retryable(UpstreamUnavailable(UNREADABLE, status))
            return body
        message = message_of(body)
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
            wait = retry_after(headers)
            when = f"in {wait} s" if wait is not None else "shortly"
            raise RateLimited(f"The device service is busy for this token; try again {when}.", wait)
        if 400 <= status < 500:
            raise Rejected(
                message or f"The device service refused the request (HTTP {status}).",
                status,
                field_errors(body),
            )
        error = UpstreamUnavailable(f"The device service failed (HTTP {status}).", status)
        if status in (502, 503, 504):
            raise Retryable(error)
        raise error

    def get_list(self, path: str, endpoint: str, decode: Decoder | None = None) -> list[Any]:
        """Read a list, following `next` links on the upstream's own origin.

        Every page shares one deadline; at most IOT_API_MAX_PAGES pages are read, and a
        `next` link already followed ends the list there.
        """
        deadline = Deadline(self.timeout)
        items: list[Any] = []
        url: str | None = None
        first = f"{self.base_url}{path}"
        seen = {first}
        for _ in range(settings.IOT_API_MAX_PAGES):
            body = self.request(
                "GET", path, endpoint=endpoint, url=url, decode=decode, deadline=deadline
            )
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise UpstreamUnavailable(UNREADABLE)
            items.extend(item for item in data if isinstance(item, dict | msgspec.Struct))
            url = self._next_link(body, url or first)
            if url is None:
                return items
            if url in seen:
                logger.warning("upstream list %s links back to a page already read", endpoint)
                return items
            seen.add(url)
        logger.warning(
            "upstream list %s has more than IOT_API_MAX_PAGES=%d pages",
            endpoint,
            settings.IOT_API_MAX_PAGES,
            extra={"upstream_endpoint": endpoint, "upstream_limit": "pages"},
        )
        raise UpstreamUnavailable(UNREADABLE)

    def _next_link(self, body: dict[str, Any], page: str) -> str | None:
        """The list's next page, resolved against the page just read (`?page=2` works).

        The token goes with the request, so a link is followed only to the same list: the
        upstream's own origin and the list's own path, with another query. A link elsewhere
        (another host, the emulator's controls, a device's reboot, `../`) ends the read.
        """
        links, meta = body.get("links"), body.get("meta")
        nxt = (links or {}).get("next") if isinstance(links, dict) else None
        if not nxt and isinstance(meta, dict):
            nxt = meta.get("next")
        if not isinstance(nxt, str) or not nxt:
            return None
        target, here = urlsplit(urljoin(page, nxt)), urlsplit(page)
        if target[:2] != urlsplit(self.base_url)[:2]:
            raise UpstreamUnavailable("The device service sent a link to another site.")
        if target.path.rstrip("/") != here.path.rstrip("/"):
            logger.warning("upstream list links to another path; not followed")
            raise UpstreamUnavailable("The device service sent a link to another part of its API.")
        return target._replace(fragment="").geturl()


def remaining(file: IO[bytes]) -> int:
    """Bytes from a handle's position to its end, leaving the position where it was."""
    position = file.tell()
    end = file.seek(0, io.SEEK_END)
    file.seek(position)
    return end - position


class Sized:
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


def probe_upstream() -> float:
    """Whether the upstream answers at all, and in how many milliseconds; for /readyz.

    The request carries no token (there is none to use here): any HTTP answer below 500, the
    expected 401 included, proves the upstream reachable. Only the status line is read, within
    one deadline. Raises UpstreamUnavailable otherwise.
    """
    started = time.perf_counter()
    status: int | str = "error"
    seconds = min(settings.IOT_API_TIMEOUT, 5.0)
    watch = _WATCHDOG.watch(time.monotonic() + seconds)
    _local.watch = watch
    try:
        response = session().get(
            f"{settings.IOT_API_BASE_URL}/v1/user/devices",
            headers={"Accept": "application/json"},
            timeout=(min(settings.IOT_API_CONNECT_TIMEOUT, seconds), seconds),
            allow_redirects=False,
            stream=True,
        )
        response.close()  # the body is not needed, whatever its size
        status = response.status_code
    except requests.Timeout:
        status = "timeout"
        raise UpstreamUnavailable("The device service did not answer in time.") from None
    except requests.RequestException:
        status = "connection-error"
        raise UpstreamUnavailable(UNREACHABLE) from None
    finally:
        _WATCHDOG.finish(watch)
        _local.watch = None
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
