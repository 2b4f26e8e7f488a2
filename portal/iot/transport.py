"""The HTTP transport: one pooled session per thread, the timeouts, the status-code mapping.

Every byte to and from the upstream passes through `Transport.request`. Reads are retried on
connection failures and 502/503/504 with a short backoff; writes never are.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import msgspec
import requests
from django.conf import settings
from requests_toolbelt.multipart.encoder import MultipartEncoder

from portal.iot.errors import (
    IoTError,
    NotFound,
    RateLimited,
    Rejected,
    TokenRejected,
    UpstreamUnavailable,
)

logger = logging.getLogger("portal.iot")

UNREADABLE = "The device service sent an answer the portal could not read."

_local = threading.local()


def session() -> requests.Session:
    """One pooled session per thread: keep-alive without sharing a Session across threads."""
    current = getattr(_local, "session", None)
    if current is None:
        current = requests.Session()
        current.trust_env = False  # no proxies or .netrc credentials picked up from the host
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=8)
        current.mount("http://", adapter)
        current.mount("https://", adapter)
        _local.session = current
    return current


def message_of(body: object) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return body["message"]
    return None


def field_errors(body: object) -> dict[str, list[str]]:
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, dict):
        return {}
    return {
        str(field): [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
        for field, msgs in errors.items()
    }


def json_body(response: requests.Response) -> Any:
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


def retry_after(response: requests.Response) -> int | None:
    try:
        return max(0, int(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


class Retryable(Exception):
    """Carries an error that a read may retry; never leaves this package."""

    def __init__(self, error: IoTError) -> None:
        self.error = error


Decoder = Callable[[requests.Response], Any]


class Transport:
    """Calls to one upstream with one token. The token is held in a name-mangled attribute
    that no repr, exception or log line includes."""

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
    ) -> Any:
        """One upstream call (reads retried); `decode` reads a success's body (default: JSON)."""
        is_read = method == "GET"
        attempts = 1 + (self.retries if is_read else 0)
        for attempt in range(1, attempts + 1):
            try:
                return self._once(
                    method, path, endpoint, json, data, content_type, url, timeout, decode
                )
            except Retryable as retryable:
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
            response = session().request(
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
            raise Retryable(
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

    def _decode(self, response: requests.Response, decode: Decoder | None) -> Any:
        status = response.status_code
        body = decode(response) if decode and 200 <= status < 300 else json_body(response)
        if 200 <= status < 300:
            if body is None:
                if status == 204 or not response.content:
                    return {}
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
            wait = retry_after(response)
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
        """Read a list, following `next` links on the upstream's own origin."""
        items: list[Any] = []
        url: str | None = None
        for _ in range(1000):  # a hard stop against a link loop
            body = self.request("GET", path, endpoint=endpoint, url=url, decode=decode)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise UpstreamUnavailable(UNREADABLE)
            items.extend(item for item in data if isinstance(item, dict | msgspec.Struct))
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
    expected 401 included, proves the upstream reachable. Raises UpstreamUnavailable otherwise.
    """
    started = time.perf_counter()
    status: int | str = "error"
    try:
        response = session().get(
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
