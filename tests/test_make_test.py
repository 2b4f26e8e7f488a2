"""`make test` on a fresh machine: it installs Chromium where it can, else stops at once and
says the command to run, before anything else runs.

Each test runs the real Makefile and bin/test-deps with a PATH of stand-ins: a fake `id`
(root or not), `apt-get` and `dpkg-query` that only write down how they were called, and a fake
venv whose `ruff` and `python` do the same. Nothing is installed and no suite runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAKE = shutil.which("make")
COMMAND = "sudo apt-get update && sudo apt-get install -y chromium fonts-dejavu-core"

pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def stand_in(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


class Machine:
    """A PATH without the real Chromium, and a log of every command the stand-ins were given."""

    def __init__(self, tmp_path: Path, *, root: bool, apt: bool, chromium: bool, font: bool):
        self.bin = tmp_path / "bin"
        self.venv = tmp_path / "venv"
        self.log = tmp_path / "ran.log"
        (self.venv / "bin").mkdir(parents=True)
        self.bin.mkdir()
        self.log.touch()
        record = f'echo "$(basename "$0") $*" >> {self.log}'
        for tool in ("grep", "basename", "chmod"):
            os.symlink(shutil.which(tool), self.bin / tool)
        stand_in(self.bin / "id", f"echo {0 if root else 1000}")
        if apt:
            # The fake install brings the fake browser and font, as the real one would.
            font_file = tmp_path / "font-installed"
            stand_in(
                self.bin / "apt-get",
                f'{record}\ncase "$*" in *install*) printf "#!/bin/sh\\n" > {self.bin}/chromium;'
                f" chmod +x {self.bin}/chromium; : > {font_file};; esac",
            )
            if font:
                font_file.touch()
            stand_in(
                self.bin / "dpkg-query",
                f'if [ -e {font_file} ]; then printf "install ok installed";'
                ' else printf "unknown ok not-installed"; fi',
            )
        if chromium:
            stand_in(self.bin / "chromium", "exit 0")
        stand_in(self.venv / "bin" / "ruff", record)
        stand_in(self.venv / "bin" / "python", record)
        (self.venv / ".installed").touch()  # newer than the requirements: no pip install

    def make_test(self) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PORTAL_CHROMIUM", "MAKEFLAGS")}
        return subprocess.run(
            [MAKE, "--no-print-directory", "test", f"VENV={self.venv}"],
            cwd=ROOT,
            env={**env, "PATH": str(self.bin)},
            capture_output=True,
            text=True,
            timeout=30,
        )

    def ran(self) -> list[str]:
        return self.log.read_text().splitlines()


def test_without_chromium_and_root_it_stops_first_with_the_command_to_run(tmp_path):
    machine = Machine(tmp_path, root=False, apt=True, chromium=False, font=True)
    result = machine.make_test()
    assert result.returncode != 0
    assert COMMAND in result.stderr
    assert "chromium" in result.stderr.split("lacks:")[1].splitlines()[0]
    assert machine.ran() == []  # no apt-get, no lint, no migrations check, no pytest


def test_a_missing_font_alone_also_stops_it(tmp_path):
    machine = Machine(tmp_path, root=False, apt=True, chromium=True, font=False)
    result = machine.make_test()
    assert result.returncode != 0
    assert "lacks: fonts-dejavu-core" in result.stderr and COMMAND in result.stderr
    assert machine.ran() == []


def test_off_debian_it_says_what_to_install_and_what_runs_without_it(tmp_path):
    machine = Machine(tmp_path, root=False, apt=False, chromium=False, font=True)
    result = machine.make_test()
    assert result.returncode != 0
    assert "PORTAL_CHROMIUM=/path/to/chromium" in result.stderr
    assert "make test-fast" in result.stderr
    assert machine.ran() == []


def test_as_root_on_debian_it_installs_chromium_then_runs_the_suite(tmp_path):
    machine = Machine(tmp_path, root=True, apt=True, chromium=False, font=False)
    result = machine.make_test()
    assert result.returncode == 0, result.stderr
    ran = machine.ran()
    assert ran[0] == "apt-get update -qq"
    assert ran[1] == "apt-get install -y -qq chromium fonts-dejavu-core"
    assert [line.split()[0] for line in ran[2:]] == ["ruff", "ruff", "python", "python"]
    assert ran[-1].startswith("python -m pytest")


def test_with_everything_there_it_installs_nothing(tmp_path):
    machine = Machine(tmp_path, root=True, apt=True, chromium=True, font=True)
    assert machine.make_test().returncode == 0
    assert not any(line.startswith("apt-get") for line in machine.ran())
