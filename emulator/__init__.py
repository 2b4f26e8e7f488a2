"""HTTP emulator of the vendor's IoT device cloud (``/v1/user/devices...``).

Self-contained: needs only werkzeug, never Django. Start it with ``python -m emulator``, from
Python with :class:`emulator.server.Emulator`, or in tests with the fixtures of
:mod:`emulator.pytest_plugin`.
"""

from emulator.server import Emulator
from emulator.state import State

__all__ = ["Emulator", "State"]
