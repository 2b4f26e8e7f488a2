"""The hostile suite's line in pytest's terminal summary: cases run and what they found.

Each hostile test carries its batch's score in its user_properties, which pytest-xdist sends
from the workers with the report, so the total is right with `-n 2` as without it.
"""

from __future__ import annotations

from collections import Counter


def pytest_terminal_summary(terminalreporter) -> None:
    total: Counter = Counter()
    backends: set[str] = set()
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for key, score in getattr(report, "user_properties", []):
                if key == "hostile":
                    backends.add(score["backend"])
                    total.update({k: v for k, v in score.items() if isinstance(v, int)})
    if not backends:
        return
    terminalreporter.write_sep("-", "hostile suite")
    terminalreporter.write_line(
        f"hostile: {total['cases']} cases on {' and '.join(sorted(backends))}, "
        f"{total['portal_500']} portal 500s, {total['off_path']} off-path upstream requests, "
        f"{total['audit']} writes without exactly one audit row, "
        f"{total['no_answer']} without an answer, {total['traceback']} tracebacks, "
        f"{total['token_shown']} pages showing a token, {total['signed_out']} cases signed out"
    )
