"""Fleet work depends on the core, never the other way round: portal/ imports nothing of
fleet/ (fleet registers what the core asks of it, e.g. /readyz's worker count)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_core_imports_no_fleet_module():
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in _imports(path) if n.split(".")[0] == "fleet")
        for path in (ROOT / "portal").rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_fleet_imports_only_the_core_never_the_device_or_firmware_pages():
    apps = {"devices", "firmware"}
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in _imports(path) if n.split(".")[0] in apps)
        for path in (ROOT / "fleet").rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_readyz_gets_its_worker_count_from_fleet_by_registration(db):
    from fleet.health import workers_alive
    from portal import health

    assert health._count_workers is workers_alive
