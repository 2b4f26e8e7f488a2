"""pytest fixtures for the emulator.

Load with ``pytest_plugins = ["emulator.pytest_plugin"]`` in the root conftest, or import the
fixtures into a test module: ``from emulator.pytest_plugin import emulator, emulator_server``.

- ``emulator_server`` (session): one :class:`Emulator` on a free loopback port, tokens
  ``TOKEN_A`` and ``TOKEN_B``, the curated demo fleet, reboots and OTA finishing after 1 s.
- ``emulator`` (function): that same server after ``.reset()``: seeded fleets, no faults,
  empty log, no latency, every OTA a success at time scale 1. Program the test range on it:
  ``emulator.set_ota_outcome(uid, "old_build")``, ``emulator.set_ota_outcomes(devices=...,
  probabilities=..., seed=...)``, ``emulator.clear_ota_outcomes()``,
  ``emulator.set_time_scale(20)`` (see emulator/README.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.server import Emulator

TOKEN_A = "test-token-alpha-0001"
TOKEN_B = "test-token-bravo-0002"


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[Emulator]:
    with Emulator(tokens=(TOKEN_A, TOKEN_B), ota_seconds=1.0, reboot_seconds=1.0) as server:
        yield server


@pytest.fixture
def emulator(emulator_server: Emulator) -> Emulator:
    emulator_server.reset()
    return emulator_server
