"""The WSGI application: the vendor's 16 device endpoints plus ``/_emulator/`` controls.

Request flow for an API request (anything outside ``/_emulator/``): latency, then an injected
fault if one matches, then routing (404/405), auth (401), device lookup (404), body parsing
(400), validation (422) and the business rules (409/422). Every API request is logged.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import functools
import json
import math
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from emulator import validation
from emulator.state import State
from emulator.validation import ApiError

FAULT_KINDS = (
    "500",
    "503_html",
    "html",
    "malformed",
    "hang",
    "429",
    "drop",
    "raw",
    "huge",
    "gzip_bomb",
    "trickle",
    "next_loop",
    "deep",
)
# What the size-driven kinds send when the fault gives no size (bytes; nesting for "deep").
DEFAULT_SIZES = {
    "huge": 200 * 1024 * 1024,
    "gzip_bomb": 1024 * 1024 * 1024,
    "trickle": 64,
    "deep": 100_000,
}
_CHUNK = 64 * 1024

# Uploads above this are refused before parsing; the 4 MB rule itself is a 422 like upstream.
MAX_REQUEST_BYTES = 32 * 1024 * 1024

DEVICES = "/v1/user/devices"
DEVICE = DEVICES + "/<uid>"

API_MAP = Map(
    [
        Rule(DEVICES, methods=["GET"], endpoint="list_devices"),
        Rule(DEVICE, methods=["GET"], endpoint="show_device"),
        Rule(DEVICE, methods=["PATCH"], endpoint="update_device"),
        Rule(DEVICE + "/reboot", methods=["POST"], endpoint="reboot"),
        Rule(DEVICE + "/wifi-reset", methods=["POST"], endpoint="wifi_reset"),
        Rule(DEVICE + "/ota", methods=["POST"], endpoint="ota"),
        Rule(DEVICE + "/commands", methods=["POST"], endpoint="command"),
        Rule(DEVICE + "/command-buttons", methods=["GET"], endpoint="list_buttons"),
        Rule(DEVICE + "/command-buttons", methods=["POST"], endpoint="create_button"),
        Rule(DEVICE + "/command-buttons/<button_id>", methods=["DELETE"], endpoint="delete_button"),
        Rule(
            DEVICE + "/command-buttons/<button_id>/send", methods=["POST"], endpoint="send_button"
        ),
        Rule(DEVICE + "/firmwares", methods=["GET"], endpoint="list_firmwares"),
        Rule(DEVICE + "/firmwares", methods=["POST"], endpoint="upload_firmware"),
        Rule(DEVICE + "/firmwares/set-target", methods=["POST"], endpoint="set_target"),
        Rule(DEVICE + "/firmwares/<firmware_id>", methods=["PATCH"], endpoint="update_firmware"),
        Rule(DEVICE + "/firmwares/<firmware_id>", methods=["DELETE"], endpoint="delete_firmware"),
    ],
    strict_slashes=False,
)

CONTROL_MAP = Map(
    [
        Rule("/_emulator/health", methods=["GET"], endpoint="health"),
        Rule("/_emulator/log", methods=["GET"], endpoint="get_log"),
        Rule("/_emulator/log", methods=["DELETE"], endpoint="clear_log"),
        Rule("/_emulator/faults", methods=["GET"], endpoint="get_faults"),
        Rule("/_emulator/faults", methods=["POST"], endpoint="set_fault"),
        Rule("/_emulator/faults", methods=["DELETE"], endpoint="clear_faults"),
        Rule("/_emulator/latency", methods=["POST"], endpoint="set_latency"),
        Rule("/_emulator/throttle", methods=["GET"], endpoint="get_throttle"),
        Rule("/_emulator/throttle", methods=["POST"], endpoint="set_throttle"),
        Rule("/_emulator/throttle", methods=["DELETE"], endpoint="clear_throttle"),
        Rule("/_emulator/page-size", methods=["POST"], endpoint="set_page_size"),
        Rule("/_emulator/reset", methods=["POST"], endpoint="reset"),
        Rule("/_emulator/devices/<uid>", methods=["POST"], endpoint="set_device"),
        Rule("/_emulator/devices/<uid>/received", methods=["GET"], endpoint="received"),
        # The test range (emulator/ota_range.py).
        Rule("/_emulator/ota-outcomes", methods=["GET"], endpoint="get_ota_outcomes"),
        Rule("/_emulator/ota-outcomes", methods=["POST"], endpoint="set_ota_outcomes"),
        Rule("/_emulator/ota-outcomes", methods=["DELETE"], endpoint="clear_ota_outcomes"),
        Rule("/_emulator/time-scale", methods=["GET"], endpoint="get_time_scale"),
        Rule("/_emulator/time-scale", methods=["POST"], endpoint="set_time_scale"),
    ],
    strict_slashes=False,
)

_HTML_503 = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Service Unavailable</title></head>
<body>
<h1>503 Service Unavailable</h1>
<p>The server is temporarily unable to service your request due to maintenance downtime or
capacity problems. Please try again later.</p>
</body>
</html>
"""

_HTML_200 = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in</title></head>
<body>
<form method="post" action="/login"><h1>Network login required</h1>
<input name="user"><input name="password" type="password"><button>Sign in</button></form>
</body>
</html>
"""

# Cut in the middle of a string: what a proxy truncating the body would deliver.
_MALFORMED_JSON = '{"data": [{"uid": "espressif8266_G8VfdNhn7jqN", "name": "Kitch'


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Compact JSON, as Laravel sends it."""
    return Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        headers=headers,
        content_type="application/json",
    )


class MalformedBody(Exception):
    """The request body was expected to be a JSON object and is not."""


def _json_body(request: Request) -> dict[str, Any]:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBody from exc
    if not isinstance(data, dict):
        raise MalformedBody
    return data


@dataclass
class Fault:
    """An injected failure. ``count=None`` lasts until cleared; ``path`` is a regex searched in
    the request path (``None`` matches every API request)."""

    kind: str
    count: int | None = None
    path: str | None = None
    retry_after: int = 30
    hang_seconds: float = 30.0
    # "raw": this exact answer, whatever the request (any upstream's answer, broken or not).
    status: int = 200
    body_b64: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    # "huge", "gzip_bomb", "trickle": the (decoded) body's bytes; "deep": its nesting. 0: the
    # kind's default (DEFAULT_SIZES). "trickle": seconds between two bytes.
    size: int = 0
    interval: float = 1.0
    _regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(FAULT_KINDS)}")
        if self.count is not None and self.count < 1:
            raise ValueError("count must be a positive integer or null")
        if self.size < 0 or self.interval < 0:
            raise ValueError("size and interval must be >= 0")
        self._regex = re.compile(self.path) if self.path is not None else None

    def matches(self, path: str) -> bool:
        return self._regex is None or self._regex.search(path) is not None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_regex")
        return data


class Controls:
    """Runtime knobs outside the device model: latency, faults, pagination, the per-token
    throttle and the log."""

    def __init__(self, latency_ms: float = 0, page_size: int | None = None) -> None:
        self._lock = threading.Lock()
        # The per-token throttle: at most `calls` API requests per token in any `window`
        # seconds (a sliding window, counted when a request arrives); None: off.
        self._throttle: tuple[int, float] | None = None
        self._hits: dict[str, collections.deque[float]] = {}
        self.latency_ms = latency_ms
        self.page_size = page_size
        self._faults: list[Fault] = []
        self._log: list[dict[str, Any]] = []
        # Bumped by clear_log: a request that began before a clear (say one woken from a
        # "hang" by a reset) must not reappear in the fresh log.
        self._log_generation = 0
        # Sleeping requests (latency, "hang") wait on this so clear/reset/stop can free them.
        self._wake = threading.Event()

    def set_fault(self, fault: Fault) -> Fault:
        """Newest fault wins; it replaces an older one on the same ``path``."""
        if fault.kind == "gzip_bomb":
            _gzip_bomb(fault.size or DEFAULT_SIZES["gzip_bomb"])  # compressed now, not per request
        with self._lock:
            self._faults = [f for f in self._faults if f.path != fault.path]
            self._faults.insert(0, fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = []
        self.wake_sleepers()

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def take_fault(self, path: str) -> Fault | None:
        """The fault for this request, spending one of its ``count``."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(path):
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def set_throttle(self, calls: int | None, window: float = 60.0) -> dict[str, Any]:
        """At most `calls` API requests per token in any `window` seconds, then 429 with
        Retry-After; `calls=None` turns it off. Starts counting afresh."""
        if calls is not None and (int(calls) < 1 or float(window) <= 0):
            raise ValueError("calls must be a positive integer (or null) and window > 0")
        with self._lock:
            self._throttle = None if calls is None else (int(calls), float(window))
            self._hits = {}
        return self.throttle()

    def throttle(self) -> dict[str, Any]:
        with self._lock:
            if self._throttle is None:
                return {"calls": None, "window_seconds": None}
            return {"calls": self._throttle[0], "window_seconds": self._throttle[1]}

    def take_call(self, token: str | None, now: float) -> int | None:
        """Count an API request of `token` arriving at `now`; the seconds to wait (its
        Retry-After) when the throttle refuses it. A refused request does not count."""
        with self._lock:
            if self._throttle is None or not token:
                return None
            calls, window = self._throttle
            hits = self._hits.setdefault(token, collections.deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= calls:
                return max(1, math.ceil(hits[0] + window - now))
            hits.append(now)
            return None

    @property
    def log_generation(self) -> int:
        return self._log_generation

    def record(self, entry: dict[str, Any], generation: int) -> None:
        with self._lock:
            if generation == self._log_generation:
                self._log.append(entry)

    def log(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._log]

    def clear_log(self) -> None:
        with self._lock:
            self._log = []
            self._log_generation += 1

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                event = self._wake
            event.wait(seconds)

    def wake_sleepers(self) -> None:
        with self._lock:
            event, self._wake = self._wake, threading.Event()
        event.set()


def _bearer(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class EmulatorApp:
    """WSGI callable. ``on_reset`` is called by ``POST /_emulator/reset``."""

    def __init__(
        self, state: State, controls: Controls, on_reset: Callable[[], None] | None = None
    ) -> None:
        self.state = state
        self.controls = controls
        self.on_reset = on_reset or state.reset

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = MAX_REQUEST_BYTES
        if request.path == "/_emulator" or request.path.startswith("/_emulator/"):
            response = self._control(request)
        else:
            response = self._api(request)
        return response(environ, start_response)

    # ------------------------------------------------------------------ API

    def _api(self, request: Request) -> Response:
        token = _bearer(request)
        token_ok = self.state.is_token(token)
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "query": request.query_string.decode("latin-1"),
            "status": None,
            "token_ok": token_ok,
            "at": time.time(),
        }
        generation = self.controls.log_generation
        recorded = False
        try:
            # The throttle counts a request when it arrives, like the vendor's rate limiter.
            wait = self.controls.take_call(token if token_ok else None, entry["at"])
            self.controls.sleep(self.controls.latency_ms / 1000)
            if wait is not None:
                response = _too_many(wait, self.controls.throttle()["calls"])
                entry["status"] = response.status_code
                return response
            fault = self.controls.take_fault(request.path)
            response = self._fault_response(fault, request) if fault else None
            if isinstance(response, _Dropped):
                # Log first: once the socket is shut the client may already read the log.
                # A dropped connection keeps status None: no answer was ever sent.
                self.controls.record(entry, generation)
                recorded = True
                _shutdown(request)
                return response
            if response is None:
                response = self._dispatch(request, token if token_ok else None)
            entry["status"] = response.status_code
            return response
        finally:
            if not recorded:
                self.controls.record(entry, generation)

    def _fault_response(self, fault: Fault, request: Request) -> Response | None:
        kind = fault.kind
        if kind == "500":
            return json_response({"message": "Server Error"}, 500)
        if kind == "503_html":
            return Response(_HTML_503, status=503, content_type="text/html; charset=utf-8")
        if kind == "html":
            return Response(_HTML_200, status=200, content_type="text/html; charset=utf-8")
        if kind == "malformed":
            return Response(_MALFORMED_JSON, status=200, content_type="application/json")
        if kind == "429":
            return json_response(
                {"message": "Too Many Attempts."},
                429,
                {"Retry-After": str(fault.retry_after), "X-RateLimit-Remaining": "0"},
            )
        if kind == "hang":
            # Then answer normally: by now the client has usually given up.
            self.controls.sleep(fault.hang_seconds)
            return None
        if kind == "drop":
            return _Dropped()
        if kind == "raw":
            response = Response(base64.b64decode(fault.body_b64), status=fault.status)
            response.headers.clear()  # no Content-Type unless the fault gives one
            for name, value in fault.headers.items():
                response.headers[name] = value
            return response
        size = fault.size or DEFAULT_SIZES.get(kind, 0)
        if kind == "huge":
            # Valid JSON of exactly `size` bytes, streamed: only a size limit stops it.
            return _streamed(_padded(size), size)
        if kind == "gzip_bomb":
            compressed = _gzip_bomb(size)
            response = _streamed(iter([compressed]), len(compressed))
            response.headers["Content-Encoding"] = "gzip"
            return response
        if kind == "trickle":
            body = b"".join(_padded(max(size, len(_PAD_HEAD) + len(_PAD_TAIL))))
            return _streamed(self._trickle(body, fault.interval), len(body))
        if kind == "next_loop":
            # A page whose next link is itself: same origin, so only a loop check stops it.
            token = _bearer(request)
            devices = self.state.list_devices(token) if self.state.is_token(token) else []
            return json_response({"data": devices, "links": {"next": request.url}})
        if kind == "deep":
            body = b'{"data":' + b"[" * size + b"]" * size + b"}"
            return Response(body, status=200, content_type="application/json")
        raise AssertionError(kind)

    def _trickle(self, body: bytes, interval: float) -> Iterable[bytes]:
        for i in range(len(body)):
            yield body[i : i + 1]
            self.controls.sleep(interval)  # clear_faults/reset/stop end the wait

    def _dispatch(self, request: Request, token: str | None) -> Response:
        adapter = API_MAP.bind_to_environ(request.environ)
        rel = request.path.lstrip("/")
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed as exc:
            allowed = sorted(set(exc.valid_methods or []))
            return json_response(
                {
                    "message": f"The {request.method} method is not supported for route {rel}. "
                    f"Supported methods: {', '.join(allowed)}."
                },
                405,
                {"Allow": ", ".join(allowed)},
            )
        except NotFound:
            return json_response({"message": f"The route {rel} could not be found."}, 404)
        except HTTPException as exc:
            return json_response({"message": exc.name}, exc.code or 400)

        if token is None:
            return json_response({"message": "Unauthenticated."}, 401)
        try:
            handler = getattr(self, f"api_{endpoint}")
            status, body = handler(request, token, **args)
            return json_response(body, status)
        except ApiError as exc:
            return json_response(exc.body(), exc.status, exc.headers)
        except MalformedBody:
            return json_response({"message": "Malformed JSON body."}, 400)
        except RequestEntityTooLarge:
            return json_response({"message": "The POST data is too large."}, 413)

    # Handlers return (status, body). Device existence is checked before body parsing and
    # validation, like Laravel's route-model binding runs before form-request validation.

    def api_list_devices(self, request: Request, token: str) -> tuple[int, Any]:
        devices = self.state.list_devices(token)
        page_size = self.controls.page_size
        if not page_size:
            return 200, {"data": devices}
        try:
            page = max(1, int(request.args.get("page", "1")))
        except ValueError:
            page = 1
        total = len(devices)
        last_page = max(1, -(-total // page_size))
        start = (page - 1) * page_size
        base = request.host_url.rstrip("/") + request.path

        def link(number: int | None) -> str | None:
            return None if number is None else f"{base}?page={number}"

        return 200, {
            "data": devices[start : start + page_size],
            "links": {
                "first": link(1),
                "last": link(last_page),
                "prev": link(page - 1 if 1 < page <= last_page + 1 else None),
                "next": link(page + 1 if page < last_page else None),
            },
            "meta": {
                "current_page": page,
                "last_page": last_page,
                "per_page": page_size,
                "total": total,
            },
        }

    def api_show_device(self, request: Request, token: str, uid: str) -> tuple[int, Any]:
        return 200, {"data": self.state.device_detail(token, uid)}

    def api_update_device(self, request: Request, token: str, uid: str) -> tuple[int, Any]:
        self.state.require_device(token, uid)
        changes = validation.validate_device_update(_json_body(request))
        return 200, {"data": self.state.update_device(token, uid, changes)}

    def api_reboot(self, request: Request, token: str, uid: str) -> tuple[int, Any]:
        return 200, self.state.reboot(token, uid)

    def api_wifi_reset(self, request: Request, token: str, uid: str) -> tuple[int, Any]:
        return 200, self.state.wifi_reset(token, uid)

    def api_ota(self, request: Request, token: str, uid: str) -> tuple[int, Any]:
        return 200, self.state.trigger_ota(token, uid)

    def api_command(self, request: Request, token: str, uid: str) -> tuple[int, Any]:
        self.state.require_device(token, uid)
        payload = validation.validate_command(_json_body(request))["payload"]
        return 200, self.state.send_command(token, uid, payload)

    def api_list_buttons(self, request: Request, token: str, uid: str) -> tuple[int, Any]:
        return 200, {"data": self.state.list_buttons(token, uid)}

    def api_create_button(self, request: Request, token: str, uid: str) -> tuple[int, Any]:
        self.state.require_device(token, uid)
        button = validation.validate_button(_json_body(request))
        return 201, self.state.create_button(token, uid, button)

    def api_delete_button(
        self, request: Request, token: str, uid: str, button_id: str
    ) -> tuple[int, Any]:
        return 200, self.state.delete_button(token, uid, button_id)

    def api_send_button(
        self, request: Request, token: str, uid: str, button_id: str
    ) -> tuple[int, Any]:
        return 200, self.state.send_button(token, uid, button_id)

    def api_list_firmwares(self, request: Request, token: str, uid: str) -> tuple[int, Any]:
        return 200, {"data": self.state.list_firmwares(token, uid)}

    def api_upload_firmware(self, request: Request, token: str, uid: str) -> tuple[int, Any]:
        self.state.require_device(token, uid)
        fields = {k: request.form.get(k) for k in ("name", "version", "notes") if k in request.form}
        upload = request.files.get("file")
        content = upload.read() if upload is not None else None
        sent_as_text = upload is None and "file" in request.form
        clean, content = validation.validate_firmware_upload(fields, content, sent_as_text)
        return 201, {"data": self.state.upload_firmware(token, uid, clean, content)}

    def api_update_firmware(
        self, request: Request, token: str, uid: str, firmware_id: str
    ) -> tuple[int, Any]:
        self.state.firmware_exists(token, uid, firmware_id)
        changes = validation.validate_firmware_fields(_json_body(request), partial=True)
        return 200, {"data": self.state.update_firmware(token, uid, firmware_id, changes)}

    def api_delete_firmware(
        self, request: Request, token: str, uid: str, firmware_id: str
    ) -> tuple[int, Any]:
        return 200, self.state.delete_firmware(token, uid, firmware_id)

    def api_set_target(self, request: Request, token: str, uid: str) -> tuple[int, Any]:
        self.state.require_device(token, uid)
        md5 = validation.validate_set_target(_json_body(request))
        return 200, self.state.set_target(token, uid, md5)

    # ------------------------------------------------------------------ controls

    def _control(self, request: Request) -> Response:
        adapter = CONTROL_MAP.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed:
            return json_response({"message": "Method not allowed."}, 405)
        except HTTPException:
            return json_response({"message": "Unknown emulator endpoint."}, 404)
        try:
            status, body = getattr(self, f"control_{endpoint}")(request, **args)
        except MalformedBody:
            return json_response({"message": "Malformed JSON body."}, 400)
        except (ValueError, TypeError, re.error) as exc:
            return json_response({"message": str(exc)}, 422)
        return json_response(body, status)

    def control_health(self, request: Request) -> tuple[int, Any]:
        return 200, {
            "status": "ok",
            "tokens": len(self.state.tokens),
            "devices_per_token": {
                f"token_{i + 1}": len(self.state.uids(t)) for i, t in enumerate(self.state.tokens)
            },
        }

    def control_get_log(self, request: Request) -> tuple[int, Any]:
        return 200, {"data": self.controls.log()}

    def control_clear_log(self, request: Request) -> tuple[int, Any]:
        self.controls.clear_log()
        return 200, {"message": "Log cleared."}

    def control_get_faults(self, request: Request) -> tuple[int, Any]:
        return 200, {"data": self.controls.faults()}

    def control_set_fault(self, request: Request) -> tuple[int, Any]:
        data = _json_body(request)
        known = {
            "kind",
            "count",
            "path",
            "retry_after",
            "hang_seconds",
            "status",
            "body_b64",
            "size",
            "interval",
        }
        unknown = set(data) - known - {"headers"}
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        fault = Fault(
            kind=str(data.get("kind")),
            count=None if data.get("count") is None else int(data["count"]),
            path=data.get("path"),
            retry_after=int(data.get("retry_after", 30)),
            hang_seconds=float(data.get("hang_seconds", 30.0)),
            status=int(data.get("status", 200)),
            body_b64=str(data.get("body_b64", "")),
            headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
            size=int(data.get("size", 0)),
            interval=float(data.get("interval", 1.0)),
        )
        self.controls.set_fault(fault)
        return 201, {"message": "Fault set.", "data": fault.as_dict()}

    def control_clear_faults(self, request: Request) -> tuple[int, Any]:
        self.controls.clear_faults()
        return 200, {"message": "Faults cleared."}

    def control_get_throttle(self, request: Request) -> tuple[int, Any]:
        return 200, {"data": self.controls.throttle()}

    def control_set_throttle(self, request: Request) -> tuple[int, Any]:
        data = _json_body(request)
        unknown = set(data) - {"calls", "window_seconds"}
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        calls = data.get("calls")
        window = float(data.get("window_seconds", 60.0))
        throttle = self.controls.set_throttle(None if calls is None else int(calls), window)
        return 200, {"message": "Throttle set.", "data": throttle}

    def control_clear_throttle(self, request: Request) -> tuple[int, Any]:
        self.controls.set_throttle(None)
        return 200, {"message": "Throttle cleared."}

    def control_set_latency(self, request: Request) -> tuple[int, Any]:
        ms = float(_json_body(request).get("ms", 0))
        if ms < 0:
            raise ValueError("ms must be >= 0")
        self.controls.latency_ms = ms
        return 200, {"message": "Latency set.", "ms": ms}

    def control_set_page_size(self, request: Request) -> tuple[int, Any]:
        size = _json_body(request).get("page_size")
        if size is not None and int(size) < 1:
            raise ValueError("page_size must be a positive integer or null")
        self.controls.page_size = None if size is None else int(size)
        return 200, {"message": "Page size set.", "page_size": self.controls.page_size}

    def control_reset(self, request: Request) -> tuple[int, Any]:
        self.on_reset()
        return 200, {"message": "Emulator reset."}

    def control_set_device(self, request: Request, uid: str) -> tuple[int, Any]:
        try:
            detail = self.state.set_device(None, uid, _json_body(request))
        except KeyError:
            return 404, {"message": "Device not found."}
        return 200, {"data": detail}

    def control_received(self, request: Request, uid: str) -> tuple[int, Any]:
        token = self.state.token_for_uid(uid)
        if token is None:
            return 404, {"message": "Device not found."}
        return 200, {"data": self.state.received_commands(token, uid)}

    # The test range: programmable OTA outcomes and the time scale.

    def control_get_ota_outcomes(self, request: Request) -> tuple[int, Any]:
        return 200, {"data": self.state.get_ota_outcomes()}

    def control_set_ota_outcomes(self, request: Request) -> tuple[int, Any]:
        data = self.state.set_ota_outcomes(_json_body(request))
        return 200, {"message": "OTA outcomes set.", "data": data}

    def control_clear_ota_outcomes(self, request: Request) -> tuple[int, Any]:
        self.state.clear_ota_outcomes()
        return 200, {"message": "OTA outcomes cleared."}

    def control_get_time_scale(self, request: Request) -> tuple[int, Any]:
        return 200, {"scale": self.state.time_scale}

    def control_set_time_scale(self, request: Request) -> tuple[int, Any]:
        body = _json_body(request)
        if "scale" not in body:
            raise ValueError("scale is required")
        scale = self.state.set_time_scale(body["scale"])
        return 200, {"message": "Time scale set.", "scale": scale}


def _too_many(retry_after: int, limit: int | None) -> Response:
    """The vendor's (Laravel's) answer once a token has spent its calls."""
    return json_response(
        {"message": "Too Many Attempts."},
        429,
        {
            "Retry-After": str(retry_after),
            "X-RateLimit-Limit": str(limit or 0),
            "X-RateLimit-Remaining": "0",
        },
    )


_PAD_HEAD = b'{"data":[],"pad":"'
_PAD_TAIL = b'"}'


def _padded(size: int) -> Iterable[bytes]:
    """`{"data":[],"pad":"xxx..."}` of exactly `size` bytes (at least its frame), in chunks."""
    left = max(0, size - len(_PAD_HEAD) - len(_PAD_TAIL))
    yield _PAD_HEAD
    while left:
        n = min(left, _CHUNK)
        yield b"x" * n
        left -= n
    yield _PAD_TAIL


@functools.lru_cache(maxsize=4)
def _gzip_bomb(size: int) -> bytes:
    """A gzip body that inflates to `size` bytes of valid JSON (1 GiB: about 1 MiB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(chunk) for chunk in _padded(size)]
    parts.append(packer.flush())
    return b"".join(parts)


def _streamed(chunks: Iterable[bytes], length: int) -> Response:
    response = Response(chunks, status=200, content_type="application/json")
    response.headers["Content-Length"] = str(length)
    return response


def _shutdown(request: Request) -> None:
    """Close the TCP connection under the request; werkzeug's dev server exposes the socket.

    The server's later write fails and werkzeug treats it as a connection dropped by the peer.
    """
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _Dropped(Response):
    """A response for a connection already shut down: the server's write fails on it."""

    def __init__(self) -> None:
        super().__init__(b"", status=500)
