"""The test range: programmable OTA outcomes and the time scale's validation.

An OTA's outcome is chosen when it is triggered: the device's own outcome if one is set (a
word, or a list of words used one OTA after another, the last one repeating), else a draw
from ``probabilities`` (the rest of 1 is ``success``). The draw depends only on the seed, the
device's uid and how many OTAs that device had since the outcomes were set, so a run is
reproducible whatever order concurrent workers trigger the devices in.

What each outcome does is in :meth:`emulator.state.State._apply_ota_outcome`; every effect
shows only through the reference's own detail fields (``is_online``, ``status``,
``last_seen_at``, ``current_firmware``, ``last_ota_at``, ``meta``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

SUCCESS = "success"
OLD_BUILD = "old_build"
STUCK = "stuck"
OFFLINE = "offline"
FLAKY = "flaky"
OUTCOMES = (SUCCESS, OLD_BUILD, STUCK, OFFLINE, FLAKY)

DEFAULT_FLAKY_SECONDS = 5.0


def _outcome(value: Any) -> str:
    if value not in OUTCOMES:
        raise ValueError(f"unknown OTA outcome {value!r}; one of {', '.join(OUTCOMES)}")
    return value


def check_time_scale(value: Any) -> float:
    """A positive, finite number: how many times faster reboots, OTAs and drop-offs run."""
    if isinstance(value, bool):
        raise ValueError("scale must be a positive number")
    scale = float(value)
    if not 0 < scale < float("inf"):
        raise ValueError("scale must be a positive number")
    return scale


@dataclass
class OtaOutcomes:
    """Per-device outcomes, outcome probabilities and their seed, plus the flaky delay."""

    devices: dict[str, list[str]] = field(default_factory=dict)
    probabilities: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    # A flaky device drops offline this long (scaled) after it came back on the target.
    flaky_seconds: float = DEFAULT_FLAKY_SECONDS
    # OTAs triggered per uid since these outcomes were set (the draw's and the list's index).
    _counts: dict[str, int] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> OtaOutcomes:
        """Validate ``{"devices", "probabilities", "seed", "flaky_seconds"}`` (all optional).

        Raises ``ValueError`` (the control API's 422) for anything else."""
        if not isinstance(data, dict):
            raise ValueError("expected an object")
        unknown = set(data) - {"devices", "probabilities", "seed", "flaky_seconds"}
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        devices_in = data.get("devices") or {}
        if not isinstance(devices_in, dict):
            raise ValueError("devices must be an object of uid: outcome")
        devices: dict[str, list[str]] = {}
        for uid, value in devices_in.items():
            words = value if isinstance(value, list) else [value]
            if not words:
                raise ValueError(f"devices.{uid}: at least one outcome")
            devices[str(uid)] = [_outcome(word) for word in words]
        probabilities_in = data.get("probabilities") or {}
        if not isinstance(probabilities_in, dict):
            raise ValueError("probabilities must be an object of outcome: p")
        probabilities: dict[str, float] = {}
        for word, p in probabilities_in.items():
            _outcome(word)
            if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
                raise ValueError(f"probabilities.{word} must be a number from 0 to 1")
            probabilities[word] = float(p)
        if sum(probabilities.values()) > 1 + 1e-9:
            raise ValueError("probabilities must add up to at most 1")
        seed = data.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError("seed must be an integer")
        flaky = data.get("flaky_seconds", DEFAULT_FLAKY_SECONDS)
        if isinstance(flaky, bool) or not isinstance(flaky, int | float) or flaky < 0:
            raise ValueError("flaky_seconds must be a number >= 0")
        return cls(devices, probabilities, seed, float(flaky))

    def as_json(self) -> dict[str, Any]:
        return {
            "devices": {uid: list(words) for uid, words in self.devices.items()},
            "probabilities": dict(self.probabilities),
            "seed": self.seed,
            "flaky_seconds": self.flaky_seconds,
        }

    def pick(self, uid: str) -> str:
        """The outcome of the OTA being triggered on ``uid`` now (counts it)."""
        index = self._counts.get(uid, 0)
        self._counts[uid] = index + 1
        words = self.devices.get(uid)
        if words:
            return words[min(index, len(words) - 1)]
        if not self.probabilities:
            return SUCCESS
        draw = random.Random(f"{self.seed}:{uid}:{index}").random()
        edge = 0.0
        for word in OUTCOMES:
            edge += self.probabilities.get(word, 0.0)
            if draw < edge:
                return word
        return SUCCESS
