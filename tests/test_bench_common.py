"""bench/common.py's CPU accounting, which a benchmark's ratio on a shared machine is read by."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import OtherWork, cpu_seconds

# A grandchild of the test spends half a second of CPU; the child says so once it has (with
# the grandchild still running, or ended and reaped), then waits for its stdin to close.
BURN = """
import subprocess, sys
burn = '''
import time
end = time.process_time() + 0.5
while time.process_time() < end:
    pass
print("spent", flush=True)
input()
'''
grandchild = subprocess.Popen([sys.executable, "-c", burn], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
assert grandchild.stdout.readline() == "spent\\n"
if sys.argv[1] == "ended":
    grandchild.communicate("\\n")
print("spent", flush=True)
sys.stdin.read()
if sys.argv[1] == "running":
    grandchild.communicate("\\n")
"""

linux = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="/proc is Linux's")


def _spent_by_a_grandchild(how: str) -> tuple[float, float, OtherWork]:
    """How much more CPU (seconds) the machine and this process with its descendants had
    spent once a grandchild spent 0.5 s, and the other work over that span."""
    load = OtherWork()
    with load.span():
        before = cpu_seconds()
        child = subprocess.Popen(
            [sys.executable, "-c", BURN, how], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            assert child.stdout.readline() == "spent\n"
            after = cpu_seconds()
        finally:
            child.stdin.close()
            child.wait(10)
    return after[0] - before[0], after[1] - before[1], load


@linux
def test_the_cpu_of_a_running_descendant_is_the_benchmarks_own_not_other_work() -> None:
    machine, ours, load = _spent_by_a_grandchild("running")
    assert ours >= 0.45
    assert machine >= ours - 0.05  # the machine spent it too
    assert load.seconds > 0 and load.cores >= 0


@linux
def test_the_cpu_of_a_descendant_that_ended_stays_the_benchmarks_own() -> None:
    machine, ours, _ = _spent_by_a_grandchild("ended")
    assert ours >= 0.45  # in the child that reaped it, not lost (nor taken for other work)
    assert machine >= ours - 0.05


def test_other_work_over_no_span_is_none() -> None:
    assert OtherWork().cores == 0.0
