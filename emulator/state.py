"""In-memory model of the vendor's device cloud: per-token fleets, buttons, firmwares, life.

Everything is guarded by one re-entrant lock (``State.lock``); the WSGI server is threaded.
Simulated life (reboots, OTA) is applied lazily: each read compares the stored deadlines with
the clock, so no background thread is needed and tests stay deterministic.
"""

from __future__ import annotations

import copy as copy_module
import hashlib
import random
import string
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulator import ota_range
from emulator.validation import ApiError, not_found, unprocessable

# The emulator's own status words: the reference shows only "pending", and a real upstream
# may send any word (or none). Whether a device is online is `is_online`, and how fresh its
# `last_seen_at` is; the status word is only shown.
ONLINE = "online"
OFFLINE = "offline"
PENDING = "pending"
RECONNECTING = "reconnecting"
STATUSES = (ONLINE, OFFLINE, PENDING, RECONNECTING)

MQTT_PORT = 8883

PLATFORMS: dict[str, dict[str, Any]] = {
    "espressif8266": {"id": 2, "name": "ESP8266", "key": "espressif8266"},
    "espressif32": {"id": 1, "name": "ESP32", "key": "espressif32"},
}

# board key -> (public board object, platform key)
BOARDS: dict[str, tuple[dict[str, Any], str]] = {
    "esp07s": ({"id": 6, "name": "ESP-07S", "key": "esp07s"}, "espressif8266"),
    "nodemcuv2": ({"id": 4, "name": "NodeMCU v2", "key": "nodemcuv2"}, "espressif8266"),
    "d1_mini": ({"id": 5, "name": "Wemos D1 mini", "key": "d1_mini"}, "espressif8266"),
    "esp32dev": ({"id": 1, "name": "ESP32 DevKit", "key": "esp32dev"}, "espressif32"),
    "esp32-c3-devkitm-1": (
        {"id": 2, "name": "ESP32-C3 DevKitM-1", "key": "esp32-c3-devkitm-1"},
        "espressif32",
    ),
    "esp32-s3-devkitc-1": (
        {"id": 3, "name": "ESP32-S3 DevKitC-1", "key": "esp32-s3-devkitc-1"},
        "espressif32",
    ),
}

COMMAND_REFUSALS = {
    OFFLINE: "Device is offline.",
    RECONNECTING: "Device is reconnecting. Try again shortly.",
    PENDING: "Device has not connected yet.",
}

_UID_ALPHABET = string.ascii_letters + string.digits

# Fields that ``State.set_device`` (the control API) may change.
SETTABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "status",
        "is_online",
        "public_ip",
        "local_ip",
        "last_rssi",
        "first_seen_at",
        "last_seen_at",
        "last_ota_at",
        "board_variant",
        "meta",
    }
)


def iso(ts: float | None) -> str | None:
    """Epoch seconds -> ISO 8601 in UTC with ``+00:00``, whole seconds (the vendor's format)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), UTC).isoformat()


def _parse_ts(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    raise ValueError(f"not a timestamp: {value!r}")


@dataclass
class Firmware:
    id: int
    name: str
    version: str | None
    notes: str | None
    md5: str
    size: int
    created_at: float


@dataclass
class Device:
    uid: str
    name: str
    platform: str
    board: str
    status: Any  # one of STATUSES, or whatever word (or value) a test sets
    description: str | None = None
    is_online: bool = False
    board_variant: Any = None  # a string, or an object like the board's, or null
    public_ip: str | None = None
    local_ip: str | None = None
    last_rssi: int | None = None
    first_seen_at: float | None = None
    # For an online device (is_online) this is ignored: it is "now - seen_lag" at read time.
    last_seen_at: float | None = None
    last_ota_at: float | None = None
    seen_lag: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)
    buttons: dict[str, dict[str, Any]] = field(default_factory=dict)
    firmwares: list[Firmware] = field(default_factory=list)
    current_firmware_id: int | None = None
    target_firmware_id: int | None = None
    # Simulated life: deadlines (epoch seconds) checked at read time.
    reboot_until: float | None = None
    ota_until: float | None = None
    ota_firmware_id: int | None = None
    # The test range (emulator/ota_range.py): the running OTA's outcome, the firmware the
    # when the device drops offline for good (offline, flaky).
    ota_outcome: str | None = None
    drop_at: float | None = None
    # Commands the device "received", for tests that want to see what was delivered.
    received: list[dict[str, Any]] = field(default_factory=list)

    def firmware(self, firmware_id: int | None) -> Firmware | None:
        if firmware_id is None:
            return None
        for fw in self.firmwares:
            if fw.id == firmware_id:
                return fw
        return None


class State:
    """All fleets of the emulated cloud, one per token.

    ``fleet_size=None`` builds the curated demo fleet for every token; an integer builds that
    many generated devices per token. Everything derives from ``seed`` and the token, so a
    reset (or a restart with the same arguments) gives the same uids, names and firmware ids.
    """

    def __init__(
        self,
        tokens: Iterable[str],
        *,
        fleet_size: int | None = None,
        seed: int = 1,
        reboot_seconds: float = 5.0,
        ota_seconds: float = 8.0,
        clock: Callable[[], float] = time.time,
        time_scale: float = 1.0,
    ) -> None:
        self.tokens: tuple[str, ...] = tuple(tokens)
        if not self.tokens or not all(isinstance(t, str) and t for t in self.tokens):
            raise ValueError("at least one non-empty token is required")
        if fleet_size is not None and fleet_size < 0:
            raise ValueError("fleet_size must be >= 0")
        self.fleet_size = fleet_size
        self.seed = seed
        self.reboot_seconds = reboot_seconds
        self.ota_seconds = ota_seconds
        self.clock = clock
        self.lock = threading.RLock()
        # The test range: reset() brings back this scale and clears the outcomes.
        self._initial_time_scale = ota_range.check_time_scale(time_scale)
        self.time_scale = self._initial_time_scale
        self.ota_outcomes = ota_range.OtaOutcomes()
        self._fleets: dict[str, dict[str, Device]] = {}
        self._next_firmware_id = 1
        self.reset()

    # ------------------------------------------------------------------ building

    def reset(self) -> None:
        """Rebuild every fleet from the seed (firmware ids restart too)."""
        with self.lock:
            self._next_firmware_id = 1
            self._reset_range()
            now = self.clock()
            self._fleets = {}
            for token in self.tokens:
                rng = random.Random(f"{self.seed}:{token}")
                if self.fleet_size is None:
                    devices = _build_curated(self, rng, now)
                else:
                    devices = _build_generated(self, rng, now, self.fleet_size)
                self._fleets[token] = {d.uid: d for d in devices}

    def _new_firmware_id(self) -> int:
        fid = self._next_firmware_id
        self._next_firmware_id += 1
        return fid

    # ------------------------------------------------------------------ lookups

    def is_token(self, token: str | None) -> bool:
        return token is not None and token in self._fleets

    def uids(self, token: str) -> list[str]:
        """The token's device uids, in list order."""
        with self.lock:
            return list(self._fleets[token])

    def _device(self, token: str, uid: str) -> Device:
        device = self._fleets.get(token, {}).get(uid)
        if device is None:
            raise not_found("Device not found.")
        self._tick(device, self.clock())
        return device

    def require_device(self, token: str, uid: str) -> None:
        """Raise the 404 ``Device not found.`` unless the token owns ``uid``."""
        with self.lock:
            self._device(token, uid)

    def token_for_uid(self, uid: str) -> str | None:
        with self.lock:
            for token, fleet in self._fleets.items():
                if uid in fleet:
                    return token
            return None

    # ------------------------------------------------------------------ simulated life

    def _tick(self, device: Device, now: float) -> None:
        """Apply the reboot / OTA deadlines that have passed."""
        if device.ota_outcome is not None:
            self._tick_ota_outcome(device, now)
        if device.reboot_until is not None and now >= device.reboot_until:
            device.reboot_until = None
            self._set_status(device, ONLINE, now)
        if device.ota_until is not None and now >= device.ota_until:
            self._complete_ota(device)

    @staticmethod
    def _complete_ota(device: Device) -> None:
        """The OTA succeeded: the target it was sent is now the current firmware."""
        device.current_firmware_id = device.ota_firmware_id
        device.last_ota_at = device.ota_until
        device.meta["ota_status"] = "done"
        device.ota_until = None
        device.ota_firmware_id = None

    def _set_status(self, device: Device, status: Any, now: float) -> None:
        device.status = status
        self._set_online(device, status == ONLINE, now)

    @staticmethod
    def _set_online(device: Device, online: bool, now: float) -> None:
        if device.is_online and not online:
            # Freeze the moving "last seen" at the moment the device left.
            device.last_seen_at = now - device.seen_lag
        if online and device.first_seen_at is None:
            device.first_seen_at = now
        device.is_online = online

    def _require_accepting(self, device: Device) -> None:
        if isinstance(device.status, str) and device.status in COMMAND_REFUSALS:
            raise ApiError(409, COMMAND_REFUSALS[device.status])

    # ------------------------------------------------------------------ serializers

    def _last_seen(self, device: Device, now: float) -> float | None:
        if device.is_online:
            return now - device.seen_lag
        return device.last_seen_at

    def _compact(self, device: Device, now: float) -> dict[str, Any]:
        return {
            "uid": device.uid,
            "name": device.name,
            "status": device.status,
            "last_seen_at": iso(self._last_seen(device, now)),
            "platform": dict(PLATFORMS[device.platform]),
            "board": dict(BOARDS[device.board][0]),
            "board_variant": _deepcopy_json(device.board_variant),
        }

    @staticmethod
    def _firmware_ref(fw: Firmware | None) -> dict[str, Any] | None:
        if fw is None:
            return None
        return {"id": fw.id, "name": fw.name, "version": fw.version, "md5": fw.md5}

    def _detail(self, device: Device, now: float) -> dict[str, Any]:
        meta = {"mqtt_port": MQTT_PORT}
        meta.update(device.meta)
        return {
            "uid": device.uid,
            "name": device.name,
            "description": device.description,
            "status": device.status,
            "is_online": device.is_online,
            "public_ip": device.public_ip,
            "local_ip": device.local_ip,
            "port": MQTT_PORT,
            "last_rssi": device.last_rssi,
            "first_seen_at": iso(device.first_seen_at),
            "last_seen_at": iso(self._last_seen(device, now)),
            "last_ota_at": iso(device.last_ota_at),
            "platform": dict(PLATFORMS[device.platform]),
            "board": dict(BOARDS[device.board][0]),
            "board_variant": _deepcopy_json(device.board_variant),
            "current_firmware": self._firmware_ref(device.firmware(device.current_firmware_id)),
            "target_firmware": self._firmware_ref(device.firmware(device.target_firmware_id)),
            "meta": meta,
        }

    @staticmethod
    def _firmware(device: Device, fw: Firmware) -> dict[str, Any]:
        return {
            "id": fw.id,
            "name": fw.name,
            "version": fw.version,
            "notes": fw.notes,
            "md5": fw.md5,
            "size": fw.size,
            "created_at": iso(fw.created_at),
            "is_current": device.current_firmware_id == fw.id,
            "is_target": device.target_firmware_id == fw.id,
        }

    @staticmethod
    def _button(button: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": button["id"],
            "label": button["label"],
            "payload": _deepcopy_json(button["payload"]),
            "confirm": button["confirm"],
        }

    # ------------------------------------------------------------------ devices

    def list_devices(self, token: str) -> list[dict[str, Any]]:
        """Compact devices of the token's fleet, in a stable order."""
        with self.lock:
            now = self.clock()
            out = []
            for device in self._fleets[token].values():
                self._tick(device, now)
                out.append(self._compact(device, now))
            return out

    def device_detail(self, token: str, uid: str) -> dict[str, Any]:
        with self.lock:
            device = self._device(token, uid)
            return self._detail(device, self.clock())

    def update_device(self, token: str, uid: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply validated ``name``/``description`` changes; return the detail payload."""
        with self.lock:
            device = self._device(token, uid)
            if "name" in changes:
                device.name = changes["name"]
            if "description" in changes:
                device.description = changes["description"]
            return self._detail(device, self.clock())

    def reboot(self, token: str, uid: str) -> dict[str, Any]:
        with self.lock:
            device = self._device(token, uid)
            self._require_accepting(device)
            now = self.clock()
            self._set_status(device, RECONNECTING, now)
            device.reboot_until = now + self.scaled(self.reboot_seconds)
            device.received.append({"type": "reboot", "at": now})
            return {"message": "Reboot command sent.", "device_uid": uid}

    def wifi_reset(self, token: str, uid: str) -> dict[str, Any]:
        with self.lock:
            device = self._device(token, uid)
            self._require_accepting(device)
            device.received.append({"type": "wifi-reset", "at": self.clock()})
            return {"message": "Wi-Fi reset command sent.", "device_uid": uid}

    def trigger_ota(self, token: str, uid: str) -> dict[str, Any]:
        with self.lock:
            device = self._device(token, uid)
            self._require_accepting(device)
            if device.target_firmware_id is None:
                raise unprocessable("Assign firmware first to trigger OTA.")
            now = self.clock()
            device.ota_until = now + self.scaled(self.ota_seconds)
            device.ota_firmware_id = device.target_firmware_id
            device.meta["ota_status"] = "downloading"
            device.received.append({"type": "ota", "at": now})
            self._start_ota_outcome(device, now)
            return {"message": "OTA check triggered.", "device_uid": uid}

    def send_command(self, token: str, uid: str, payload: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            device = self._device(token, uid)
            self._require_accepting(device)
            device.received.append(
                {"type": "command", "payload": _deepcopy_json(payload), "at": self.clock()}
            )
            return {"message": "Command sent.", "device_uid": uid}

    def received_commands(self, token: str, uid: str) -> list[dict[str, Any]]:
        """What the device was sent so far (reboots, resets, OTA triggers, payloads)."""
        with self.lock:
            return [_deepcopy_json(c) for c in self._device(token, uid).received]

    # ------------------------------------------------------------------ buttons

    def list_buttons(self, token: str, uid: str) -> list[dict[str, Any]]:
        with self.lock:
            device = self._device(token, uid)
            return [self._button(b) for b in device.buttons.values()]

    def create_button(self, token: str, uid: str, button: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            device = self._device(token, uid)
            if button["id"] in device.buttons:
                raise unprocessable("A command button with this id already exists.")
            stored = self._button(button)
            device.buttons[stored["id"]] = stored
            return {
                "message": "Command button created.",
                "device_uid": uid,
                "data": self._button(stored),
            }

    def _button_of(self, device: Device, button_id: str) -> dict[str, Any]:
        button = device.buttons.get(button_id)
        if button is None:
            raise not_found("Command button not found.")
        return button

    def delete_button(self, token: str, uid: str, button_id: str) -> dict[str, Any]:
        with self.lock:
            device = self._device(token, uid)
            self._button_of(device, button_id)
            del device.buttons[button_id]
            return {"message": "Command button deleted.", "device_uid": uid}

    def send_button(self, token: str, uid: str, button_id: str) -> dict[str, Any]:
        with self.lock:
            device = self._device(token, uid)
            button = self._button_of(device, button_id)
            return self.send_command(token, uid, button["payload"])

    # ------------------------------------------------------------------ firmwares

    def list_firmwares(self, token: str, uid: str) -> list[dict[str, Any]]:
        """Newest first."""
        with self.lock:
            device = self._device(token, uid)
            return [self._firmware(device, fw) for fw in reversed(device.firmwares)]

    def upload_firmware(
        self, token: str, uid: str, fields: dict[str, Any], content: bytes
    ) -> dict[str, Any]:
        with self.lock:
            device = self._device(token, uid)
            md5 = hashlib.md5(content, usedforsecurity=False).hexdigest()
            if any(fw.md5 == md5 for fw in device.firmwares):
                raise unprocessable("This firmware file is already uploaded.")
            fw = Firmware(
                id=self._new_firmware_id(),
                name=fields["name"],
                version=fields.get("version"),
                notes=fields.get("notes"),
                md5=md5,
                size=len(content),
                created_at=self.clock(),
            )
            device.firmwares.append(fw)
            return self._firmware(device, fw)

    def _firmware_of(self, device: Device, firmware_id: str | int) -> Firmware:
        try:
            fid = int(firmware_id)
        except (TypeError, ValueError):
            fid = None
        fw = device.firmware(fid)
        if fw is None:
            raise not_found("Firmware not found.")
        return fw

    def update_firmware(
        self, token: str, uid: str, firmware_id: str | int, changes: dict[str, Any]
    ) -> dict[str, Any]:
        with self.lock:
            device = self._device(token, uid)
            fw = self._firmware_of(device, firmware_id)
            for key in ("name", "version", "notes"):
                if key in changes:
                    setattr(fw, key, changes[key])
            return self._firmware(device, fw)

    def firmware_exists(self, token: str, uid: str, firmware_id: str | int) -> None:
        """Raise the 404 ``Firmware not found.`` unless the device has that firmware."""
        with self.lock:
            self._firmware_of(self._device(token, uid), firmware_id)

    def delete_firmware(self, token: str, uid: str, firmware_id: str | int) -> dict[str, Any]:
        with self.lock:
            device = self._device(token, uid)
            fw = self._firmware_of(device, firmware_id)
            for fleet in self._fleets.values():
                for other in fleet.values():
                    if fw.id in (
                        other.current_firmware_id,
                        other.target_firmware_id,
                        other.ota_firmware_id,
                    ):
                        raise unprocessable(
                            "Cannot delete firmware while it is assigned to any device."
                        )
            device.firmwares.remove(fw)
            return {"message": "Firmware deleted."}

    def set_target(self, token: str, uid: str, md5: str) -> dict[str, Any]:
        with self.lock:
            device = self._device(token, uid)
            wanted = md5.lower()
            for fw in device.firmwares:
                if fw.md5 == wanted:
                    device.target_firmware_id = fw.id
                    return {
                        "message": "Firmware assigned to device.",
                        "device_uid": uid,
                        "md5": fw.md5,
                    }
            raise not_found("Firmware with the provided md5 was not found for this device.")

    # ------------------------------------------------------------------ control

    def copy_device(self, token: str, uid: str, new_uid: str) -> None:
        """Add a copy of the token's device ``uid`` as ``new_uid`` (its buttons and firmware
        too, under new firmware ids), at the end of the list: a uid the seeded fleets never
        make, such as one of the 100 characters the portal accepts."""
        with self.lock:
            fleet = self._fleets[token]
            if new_uid in fleet:
                raise ValueError(f"{new_uid} exists")
            copy = copy_module.deepcopy(fleet[uid])
            copy.uid = new_uid
            renumbered = {}
            for fw in copy.firmwares:
                renumbered[fw.id] = fw.id = self._new_firmware_id()
            for name in ("current_firmware_id", "target_firmware_id", "ota_firmware_id"):
                old = getattr(copy, name)
                setattr(copy, name, renumbered.get(old, old))
            fleet[new_uid] = copy

    def set_device(self, token: str | None, uid: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Force device fields (control API). ``token=None`` searches every fleet.

        ``status`` alone also sets ``is_online`` (true only for "online"); ``is_online`` alone
        sets the status to "online"/"offline". Sending both stores both as given, so a test can
        build an inconsistent device on purpose; ``status`` may then be any JSON value (the
        words a real upstream sends are unknown: "active", "ok", 3, null). Any pending reboot
        is cancelled.
        Raises ``KeyError`` for an unknown uid and ``ValueError`` for a bad field.
        """
        unknown = set(fields) - SETTABLE_FIELDS
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        status = fields.get("status")
        if "is_online" not in fields and "status" in fields and status not in STATUSES:
            raise ValueError(
                f"status must be one of {', '.join(STATUSES)}, unless is_online is given too"
            )
        with self.lock:
            if token is None:
                token = self.token_for_uid(uid)
            device = self._fleets.get(token or "", {}).get(uid)
            if device is None:
                raise KeyError(uid)
            now = self.clock()
            self._tick(device, now)
            if "status" in fields or "is_online" in fields:
                device.reboot_until = None
                if "status" not in fields:
                    status = ONLINE if fields["is_online"] else OFFLINE
                self._set_status(device, status, now)
                if "is_online" in fields:
                    self._set_online(device, bool(fields["is_online"]), now)
            for key in ("first_seen_at", "last_seen_at", "last_ota_at"):
                if key in fields:
                    setattr(device, key, _parse_ts(fields[key]))
            for key in ("name", "description", "public_ip", "local_ip", "board_variant"):
                if key in fields:
                    setattr(device, key, fields[key])
            if "last_rssi" in fields:
                rssi = fields["last_rssi"]
                device.last_rssi = None if rssi is None else int(rssi)
            if "meta" in fields:
                if not isinstance(fields["meta"], dict):
                    raise ValueError("meta must be an object")
                device.meta = _deepcopy_json(fields["meta"])
            return self._detail(device, now)

    # ------------------------------------------------------------------ test range

    def scaled(self, seconds: float) -> float:
        """A simulated duration (reboot, OTA, drop-off) at the current time scale."""
        return seconds / self.time_scale

    def set_time_scale(self, scale: float) -> float:
        """Run reboots, OTAs and drop-offs ``scale`` times faster (from the next one on)."""
        checked = ota_range.check_time_scale(scale)
        with self.lock:
            self.time_scale = checked
        return checked

    def set_ota_outcomes(self, config: dict[str, Any]) -> dict[str, Any]:
        """Replace the OTA outcomes with ``{"devices", "probabilities", "seed",
        "flaky_seconds"}`` (see emulator/ota_range.py); the per-device OTA counts restart.

        Raises ``ValueError`` for a bad value or a uid no fleet has."""
        outcomes = ota_range.OtaOutcomes.from_json(config)
        with self.lock:
            unknown = [uid for uid in outcomes.devices if self.token_for_uid(uid) is None]
            if unknown:
                raise ValueError(f"unknown device uid(s): {', '.join(sorted(unknown))}")
            self.ota_outcomes = outcomes
            return outcomes.as_json()

    def get_ota_outcomes(self) -> dict[str, Any]:
        with self.lock:
            return self.ota_outcomes.as_json()

    def clear_ota_outcomes(self) -> None:
        """Every OTA succeeds again (OTAs already running keep the outcome they drew)."""
        with self.lock:
            self.ota_outcomes = ota_range.OtaOutcomes()

    def _reset_range(self) -> None:
        self.time_scale = self._initial_time_scale
        self.ota_outcomes = ota_range.OtaOutcomes()

    def _start_ota_outcome(self, device: Device, now: float) -> None:
        """Choose the outcome of the OTA just triggered and plan its deadlines."""
        outcome = self.ota_outcomes.pick(device.uid)
        device.drop_at = None
        device.ota_outcome = None if outcome == ota_range.SUCCESS else outcome
        if outcome == ota_range.STUCK:
            device.ota_until = None  # meta.ota_status stays "downloading"
        elif outcome == ota_range.OFFLINE:
            assert device.ota_until is not None
            device.drop_at = now + (device.ota_until - now) / 2  # half-way through
            device.ota_until = None
        elif outcome == ota_range.FLAKY:
            assert device.ota_until is not None
            device.drop_at = device.ota_until + self.scaled(self.ota_outcomes.flaky_seconds)

    def _tick_ota_outcome(self, device: Device, now: float) -> None:
        """Apply the deadlines of a non-success outcome that have passed."""
        outcome = device.ota_outcome
        if outcome == ota_range.OLD_BUILD:
            if device.ota_until is not None and now >= device.ota_until:
                # The new build fails to boot: the device restarts and comes back (after a
                # reboot's time) on the firmware it ran before, which never changed. The
                # attempt ended at the restart: its time is the device's last OTA.
                at = device.ota_until
                device.last_ota_at = at
                device.ota_until = None
                device.ota_firmware_id = None
                device.ota_outcome = None
                device.meta["ota_status"] = "done"
                self._set_status(device, RECONNECTING, at)
                device.reboot_until = at + self.scaled(self.reboot_seconds)
        elif outcome == ota_range.FLAKY:
            if device.ota_until is not None and now >= device.ota_until:
                self._complete_ota(device)
            if device.drop_at is not None and now >= device.drop_at:
                self._drop_offline(device)
        elif outcome == ota_range.OFFLINE and device.drop_at is not None and now >= device.drop_at:
            device.ota_firmware_id = None  # meta.ota_status stays "downloading"
            self._drop_offline(device)

    def _drop_offline(self, device: Device) -> None:
        """Offline for good from ``drop_at``: ``last_seen_at`` freezes there."""
        at = device.drop_at
        assert at is not None
        device.drop_at = None
        device.ota_outcome = None
        device.reboot_until = None
        self._set_status(device, OFFLINE, at)


def _deepcopy_json(value: Any) -> Any:
    """Copy JSON-shaped data (cheaper and stricter than ``copy.deepcopy``)."""
    if isinstance(value, dict):
        return {k: _deepcopy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deepcopy_json(v) for v in value]
    return value


# ---------------------------------------------------------------------- fleet builders


def _uid(rng: random.Random, platform: str, taken: set[str]) -> str:
    while True:
        uid = f"{platform}_{''.join(rng.choices(_UID_ALPHABET, k=12))}"
        if uid not in taken:
            taken.add(uid)
            return uid


def _md5_of(*parts: object) -> str:
    return hashlib.md5(":".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def _network(rng: random.Random, device: Device) -> None:
    # Documentation address ranges (RFC 5737) for public IPs: realistic, never routable.
    device.public_ip = f"{rng.choice(('203.0.113', '198.51.100', '192.0.2'))}.{rng.randint(2, 254)}"
    device.local_ip = f"192.168.{rng.choice((0, 1, 1, 10, 178))}.{rng.randint(20, 250)}"
    device.last_rssi = -rng.randint(38, 88)


_DAY = 86400.0


def _seen(rng: random.Random, device: Device, now: float, offline_for: float | None) -> None:
    """Fill the seen timestamps, network and meta of a device that has connected before."""
    _network(rng, device)
    device.first_seen_at = float(int(now - rng.uniform(20, 400) * _DAY))
    device.seen_lag = rng.uniform(0.2, 3.0)
    if offline_for is not None:
        device.last_seen_at = float(int(now - offline_for))
    sdk = "3.1.2" if device.platform == "espressif8266" else "5.1.4"
    device.meta = {
        "sdk_version": sdk,
        "chip_rev": rng.choice((1, 2, 3)),
        "free_heap": rng.randrange(18000, 180000, 8),
        "reset_reason": rng.choice(("Power on", "Software/System restart", "Deep-Sleep Wake")),
    }


@dataclass(frozen=True)
class _Spec:
    name: str
    board: str
    status: str
    variant: Any = None  # a string, or an object like the board's
    description: str | None = None
    offline_for: float | None = None  # seconds since last seen, for offline/reconnecting
    firmwares: tuple[tuple[str, str, str | None], ...] = ()  # (name, version, notes), oldest 1st
    current: int | None = None  # index into firmwares
    target: int | None = None
    buttons: tuple[tuple[str, str, dict[str, Any], bool], ...] = ()


_RELAY_BUTTONS = (
    ("relay_on", "Relay On", {"cmd": "relay_toggle", "channel": 1, "state": "on"}, False),
    ("relay_off", "Relay Off", {"cmd": "relay_toggle", "channel": 1, "state": "off"}, False),
)

CURATED: tuple[_Spec, ...] = (
    _Spec(
        "Greenhouse Sensor",
        "esp32dev",
        ONLINE,
        "WROOM-32E",
        "Soil moisture and air temperature, north bench",
        firmwares=(
            ("Greenhouse release", "1.2.0", "Stable OTA build"),
            ("Greenhouse release", "1.3.0", "Adds CO2 sensor support"),
        ),
        current=0,
        target=1,
        buttons=(("read_now", "Read Now", {"cmd": "sample", "sensors": ["soil", "air"]}, False),),
    ),
    _Spec(
        "Garage Door",
        "d1_mini",
        ONLINE,
        None,
        "Opener relay and reed switch",
        firmwares=(("Garage opener", "2.0.1", None),),
        current=0,
        target=0,
        buttons=(
            ("door_toggle", "Open / Close", {"cmd": "door", "action": "toggle"}, True),
            ("door_status", "Report State", {"cmd": "door", "action": "status"}, False),
        ),
    ),
    _Spec(
        "Kitchen Relay",
        "esp07s",
        ONLINE,
        None,
        "Mounted near the back door",
        firmwares=(("Relay firmware", "1.0.3", "Stable OTA build"),),
        current=0,
        target=0,
        buttons=_RELAY_BUTTONS,
    ),
    _Spec("Front Porch Light", "nodemcuv2", OFFLINE, None, None, offline_for=3 * _DAY + 5400),
    _Spec(
        "Living Room Thermostat",
        "esp32-s3-devkitc-1",
        ONLINE,
        "N16R8",
        "Hallway wall, 1.5 m high",
        firmwares=(
            ("Thermostat", "1.9.0", "Old build, kept for rollback"),
            ("Thermostat", "2.0.0", None),
            ("Thermostat", "2.1.0-beta", "Testing PID tuning"),
        ),
        current=1,
        target=None,
        buttons=(
            ("boost_30", "Boost 30 min", {"cmd": "boost", "minutes": 30}, False),
            (
                "factory_schedule",
                "Restore Schedule",
                {"cmd": "schedule", "action": "restore"},
                True,
            ),
        ),
    ),
    _Spec("Basement Water Leak", "esp32-c3-devkitm-1", ONLINE, None, "Next to the water heater"),
    _Spec("Attic Fan Controller", "nodemcuv2", RECONNECTING, None, None, offline_for=40),
    _Spec(
        "Pool Pump Timer",
        "esp32dev",
        OFFLINE,
        "WROVER",
        None,
        offline_for=19 * 3600,
        firmwares=(("Pump timer", "0.9.4", None),),
        current=0,
        target=0,
    ),
    _Spec("Workshop Dust Collector", "d1_mini", PENDING),
    _Spec("Bedroom Air Quality", "esp32-s3-devkitc-1", ONLINE, "N8R2", None),
    _Spec(
        "Mailbox Notifier",
        "esp07s",
        OFFLINE,
        {"id": 3, "name": "1MB", "key": "esp07s_1mb"},  # the reference's object shape
        "Battery powered",
        offline_for=26 * _DAY,
    ),
    _Spec("Rain Gauge", "esp32-c3-devkitm-1", PENDING, None, "Roof, tipping bucket"),
    _Spec(
        "Chicken Coop Door",
        "esp32dev",
        ONLINE,
        None,
        None,
        buttons=(
            ("coop_open", "Open Door", {"cmd": "coop", "door": "open"}, False),
            ("coop_close", "Close Door", {"cmd": "coop", "door": "close"}, True),
        ),
    ),
    _Spec(
        "Solar Inverter Monitor",
        "esp32dev",
        ONLINE,
        "WROOM-32",
        "Modbus RS485 bridge",
        firmwares=(
            ("Inverter bridge", "3.4.1", None),
            ("Inverter bridge", "3.5.0", "Faster polling"),
        ),
        current=0,
        target=1,
    ),
    _Spec("Aquarium Heater", "d1_mini", ONLINE, None, None, buttons=_RELAY_BUTTONS),
    _Spec(
        "Doorbell Camera Bridge",
        "esp32-s3-devkitc-1",
        OFFLINE,
        "N16R8",
        None,
        offline_for=2 * 3600 + 600,
    ),
)


def _add_firmwares(state: State, rng: random.Random, device: Device, spec: _Spec, now: float):
    # Oldest first, days apart, whole seconds: created_at grows with the id.
    ages = [rng.uniform(3, 20) * _DAY for _ in spec.firmwares]
    for index, (name, version, notes) in enumerate(spec.firmwares):
        age = sum(ages[index:])
        fw = Firmware(
            id=state._new_firmware_id(),
            name=name,
            version=version,
            notes=notes,
            md5=_md5_of(device.uid, name, version),
            size=rng.randrange(280_000, 1_400_000, 16),
            created_at=float(int(now - age)),
        )
        device.firmwares.append(fw)
        if spec.current == index:
            device.current_firmware_id = fw.id
            if device.status != PENDING:
                device.last_ota_at = float(int(fw.created_at + rng.uniform(600, 7200)))
        if spec.target == index:
            device.target_firmware_id = fw.id
    if device.current_firmware_id is not None:
        device.meta["ota_status"] = "done"


def _device_from_spec(
    state: State, rng: random.Random, spec: _Spec, now: float, taken: set[str]
) -> Device:
    platform = BOARDS[spec.board][1]
    device = Device(
        uid=_uid(rng, platform, taken),
        name=spec.name,
        platform=platform,
        board=spec.board,
        status=spec.status,
        description=spec.description,
        is_online=spec.status == ONLINE,
        board_variant=spec.variant,
    )
    if spec.status != PENDING:
        _seen(rng, device, now, spec.offline_for)
        if spec.status == ONLINE:
            device.last_seen_at = None
    _add_firmwares(state, rng, device, spec, now)
    for button_id, label, payload, confirm in spec.buttons:
        device.buttons[button_id] = {
            "id": button_id,
            "label": label,
            "payload": _deepcopy_json(payload),
            "confirm": confirm,
        }
    return device


def _build_curated(state: State, rng: random.Random, now: float) -> list[Device]:
    taken: set[str] = set()
    return [_device_from_spec(state, rng, spec, now, taken) for spec in CURATED]


_PLACES = (
    "Greenhouse",
    "Garage",
    "Kitchen",
    "Porch",
    "Living Room",
    "Basement",
    "Attic",
    "Pool",
    "Workshop",
    "Bedroom",
    "Office",
    "Barn",
    "Warehouse",
    "Cold Room",
    "Boiler Room",
    "Roof",
)
_THINGS = (
    "Sensor",
    "Relay",
    "Thermostat",
    "Light",
    "Door",
    "Pump",
    "Fan",
    "Meter",
    "Leak Detector",
    "Camera Bridge",
    "Heater",
    "Gateway",
)
_GEN_STATUSES = (ONLINE,) * 12 + (OFFLINE,) * 5 + (RECONNECTING,) * 1 + (PENDING,) * 2
_BOARD_KEYS = tuple(BOARDS)


def _build_generated(state: State, rng: random.Random, now: float, size: int) -> list[Device]:
    """``size`` cheap devices: mixed boards and statuses, a firmware on every seventh."""
    taken: set[str] = set()
    devices = []
    for index in range(size):
        board_key = rng.choice(_BOARD_KEYS)
        status = rng.choice(_GEN_STATUSES)
        offline_for = None
        if status == OFFLINE:
            offline_for = rng.uniform(300, 30 * _DAY)
        elif status == RECONNECTING:
            offline_for = rng.uniform(5, 90)
        firmwares: tuple[tuple[str, str, str | None], ...] = ()
        if index % 7 == 0:
            firmwares = (("Release build", f"1.{index % 5}.{index % 11}", None),)
        spec = _Spec(
            name=f"{rng.choice(_PLACES)} {rng.choice(_THINGS)} {index + 1:04d}",
            board=board_key,
            status=status,
            variant=None,
            offline_for=offline_for,
            firmwares=firmwares,
            current=0 if firmwares and status != PENDING else None,
            target=0 if firmwares else None,
        )
        devices.append(_device_from_spec(state, rng, spec, now, taken))
    return devices
