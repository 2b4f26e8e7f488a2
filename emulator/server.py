"""``Emulator``: the app on werkzeug's threaded server, in a daemon thread, with a Python API."""

from __future__ import annotations

import base64
import ipaddress
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from emulator.app import Controls, EmulatorApp, Fault
from emulator.state import State


class _QuietHandler(WSGIRequestHandler):
    """No access log: tests would drown in it. Errors still go to werkzeug's logger."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Emulator:
    """The vendor API emulator, started on ``host:port`` (``port=0`` picks a free port).

    Use as a context manager, or call :meth:`start` / :meth:`stop`. Binding anything but a
    loopback address needs ``allow_remote=True``: the emulator has no real security.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Iterable[str] = ("demo-token",),
        fleet_size: int | None = None,
        latency_ms: float = 0,
        seed: int = 1,
        reboot_seconds: float = 5.0,
        ota_seconds: float = 8.0,
        page_size: int | None = None,
        *,
        time_scale: float = 1.0,
        allow_remote: bool = False,
        access_log: bool = False,
        throttle: int | None = None,
        throttle_window: float = 60.0,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise ValueError(f"refusing to bind non-loopback host {host!r}; pass allow_remote=True")
        if page_size is not None and page_size < 1:
            raise ValueError("page_size must be a positive integer or None")
        self.host = host
        self.port = port
        self._latency_ms = latency_ms
        self._page_size = page_size
        self._access_log = access_log
        self.state = State(
            tokens,
            fleet_size=fleet_size,
            seed=seed,
            reboot_seconds=reboot_seconds,
            ota_seconds=ota_seconds,
            time_scale=time_scale,
        )
        self.controls = Controls(latency_ms=latency_ms, page_size=page_size)
        self._throttle = (throttle, throttle_window)
        self.controls.set_throttle(throttle, throttle_window)
        self.app = EmulatorApp(self.state, self.controls, on_reset=self.reset)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Bind and serve in a daemon thread. Raises ``OSError`` if the port is taken."""
        if self._server is not None:
            raise RuntimeError("emulator already started")
        handler = WSGIRequestHandler if self._access_log else _QuietHandler
        try:
            server = make_server(
                self.host, self.port, self.app, threaded=True, request_handler=handler
            )
        except SystemExit as exc:
            # werkzeug prints the reason and calls sys.exit() when binding fails.
            raise OSError(f"cannot listen on {self.host}:{self.port}") from exc
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"emulator:{server.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Requests still sleeping are woken up."""
        server, self._server = self._server, None
        if server is None:
            return
        self.controls.wake_sleepers()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, the base URL to give a client (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("emulator is not running")
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self._server.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    # ------------------------------------------------------------------ controls

    def reset(self) -> None:
        """Seeded fleets back, faults and log cleared, latency and page size as constructed
        (and, in the state, the constructor's time scale, no OTA outcomes)."""
        self.controls.clear_faults()
        self.controls.set_throttle(self._throttle[0], self._throttle[1])
        self.controls.clear_log()
        self.controls.latency_ms = self._latency_ms
        self.controls.page_size = self._page_size
        self.state.reset()

    def set_fault(
        self,
        kind: str,
        count: int | None = None,
        path: str | None = None,
        retry_after: int = 30,
        hang_seconds: float = 30.0,
        *,
        status: int = 200,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        size: int = 0,
        interval: float = 1.0,
    ) -> None:
        """Inject a fault into API requests (see README for the kinds).

        ``raw`` answers with exactly ``status``, ``headers`` and ``body`` (no Content-Type
        unless given): any answer an upstream could send, broken or not.

        ``huge``, ``gzip_bomb`` and ``trickle`` send ``size`` bytes (decoded), ``deep`` nests
        ``size`` levels (0: each kind's default); ``trickle`` waits ``interval`` seconds
        between two bytes.

        ``count`` limits how many requests it hits (None: until cleared); ``path`` is a regex
        searched in the request path. A newer fault replaces one with the same ``path``.
        """
        self.controls.set_fault(
            Fault(
                kind=kind,
                count=count,
                path=path,
                retry_after=retry_after,
                hang_seconds=hang_seconds,
                status=status,
                body_b64=base64.b64encode(body).decode(),
                headers=dict(headers or {}),
                size=size,
                interval=interval,
            )
        )

    def clear_faults(self) -> None:
        self.controls.clear_faults()

    def set_throttle(self, calls: int | None, window_seconds: float = 60.0) -> None:
        """At most ``calls`` API requests per token in any ``window_seconds`` (a sliding
        window, counted on arrival), then 429 ``Retry-After: <seconds>``; None: off."""
        self.controls.set_throttle(calls, window_seconds)

    def clear_throttle(self) -> None:
        self.controls.set_throttle(None)

    def set_latency(self, ms: float) -> None:
        """Delay every API request by ``ms`` milliseconds (controls stay instant)."""
        if ms < 0:
            raise ValueError("ms must be >= 0")
        self.controls.latency_ms = ms

    def set_page_size(self, page_size: int | None) -> None:
        """Paginate ``GET /v1/user/devices`` (None: one unpaginated list)."""
        if page_size is not None and page_size < 1:
            raise ValueError("page_size must be a positive integer or None")
        self.controls.page_size = page_size

    def set_device(self, token: str, uid: str, **fields: Any) -> dict[str, Any]:
        """Force device fields, e.g. ``status="offline"``; returns the detail payload.

        Raises ``KeyError`` if ``token`` has no device ``uid``, ``ValueError`` for bad fields.
        """
        return self.state.set_device(token, uid, fields)

    def copy_device(self, token: str, uid: str, new_uid: str) -> None:
        """Add a copy of the token's device ``uid`` under ``new_uid`` (e.g. a 100-character uid).

        Raises ``KeyError`` for an unknown uid and ``ValueError`` if ``new_uid`` exists."""
        self.state.copy_device(token, uid, new_uid)

    # ------------------------------------------------------------------ test range

    def set_ota_outcomes(
        self,
        devices: dict[str, str | list[str]] | None = None,
        probabilities: dict[str, float] | None = None,
        seed: int = 0,
        flaky_seconds: float = 5.0,
    ) -> dict[str, Any]:
        """Program the next OTAs' outcomes (``success``, ``old_build``, ``stuck``,
        ``offline``, ``flaky``): per device uid (a word, or a list used one OTA after
        another, the last repeating), else drawn from ``probabilities`` with ``seed`` (the
        rest is ``success``). Replaces what was set; returns it. ``ValueError`` if bad."""
        return self.state.set_ota_outcomes(
            {
                "devices": dict(devices or {}),
                "probabilities": dict(probabilities or {}),
                "seed": seed,
                "flaky_seconds": flaky_seconds,
            }
        )

    def set_ota_outcome(self, uid: str, outcome: str | list[str]) -> dict[str, Any]:
        """Add (or replace) one device's outcome, keeping the rest of what is set."""
        current = self.state.get_ota_outcomes()
        current["devices"][uid] = outcome
        return self.state.set_ota_outcomes(current)

    @property
    def ota_outcomes(self) -> dict[str, Any]:
        """What is set: ``{"devices", "probabilities", "seed", "flaky_seconds"}``."""
        return self.state.get_ota_outcomes()

    def clear_ota_outcomes(self) -> None:
        """Every OTA from now on succeeds (the default)."""
        self.state.clear_ota_outcomes()

    def set_time_scale(self, scale: float) -> None:
        """Reboots, OTAs and drop-offs run ``scale`` times faster (1: real time)."""
        self.state.set_time_scale(scale)

    @property
    def time_scale(self) -> float:
        return self.state.time_scale

    def uids(self, token: str) -> list[str]:
        """The token's device uids, in list order."""
        return self.state.uids(token)

    def device_uid(self, token: str, name: str) -> str:
        """The uid of the token's device called ``name`` (curated names are stable)."""
        for device in self.state.list_devices(token):
            if device["name"] == name:
                return device["uid"]
        raise KeyError(name)

    @property
    def request_log(self) -> list[dict[str, Any]]:
        """A copy of the API request log (never holds tokens)."""
        return self.controls.log()

    def clear_log(self) -> None:
        self.controls.clear_log()
