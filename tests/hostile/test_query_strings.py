"""Hostile query strings: the device list's search, filters, sort and page, the audit log's
filters and its CSV export, and every page that reads a parameter.

Junk in any parameter, repeated parameters, unknown ones, a thousand of them: a page answers
with what it can, never a 500, and a page that only reads writes nothing upstream.
"""

from __future__ import annotations

import pytest

from tests.hostile.corpus import NUMBER_WORDS, pick, query_values
from tests.hostile.harness import Case, query

pytestmark = pytest.mark.multi

LIST_PARAMS = ["q", "status", "online", "platform", "board", "tag", "sort", "page"]
SORT_WORDS = ["-name", "--name", "-", "name,uid", "__class__", "-online", "online-", "NAME", "sort"]
TARGETS = ["device-table", "device-rows", "device-live", "<script>", "x" * 1000]
DATES = ["2026-13-45", "0000-01-01", "9999-12-31", "2026-02-30", "1e999", "-1", "today"]
DATES += ["2026-01-01T00:00:00+99:00", "2026-01-01\x00", "१९९९-०१-०१"]


def _reads(group: str, path: str, pairs, **options) -> Case:
    label = options.pop("label", repr(pairs)[:60])
    return Case(group, label, "GET", path + query(pairs), read_only=True, **options)


def test_device_list_query_strings(batch):
    cases = []
    for n, (label, value) in enumerate(query_values()):
        for param in pick(LIST_PARAMS, n, 3):
            cases.append(
                _reads(
                    f"list {param}",
                    "/devices/",
                    [(param, value)],
                    label=label,
                    htmx=n % 3 == 0,
                    headers={"HX-Target": TARGETS[n % 3]} if n % 3 == 0 else {},
                )
            )
        cases.append(
            _reads("list unknown param", "/devices/", [(value or "x", value)], label=label)
        )
    for word in SORT_WORDS:
        cases.append(_reads("list sort", "/devices/", [("sort", word)]))
    for word in NUMBER_WORDS:
        cases.append(_reads("list page", "/devices/", [("page", word), ("sort", "-last_seen")]))
    for target in TARGETS:
        headers = {"HX-Target": target}
        for pairs in ([("q", "a")], [("page", "999")], [("online", "yes"), ("status", "x")]):
            cases.append(_reads("list htmx target", "/devices/", pairs, htmx=True, headers=headers))
    cases += [
        _reads("list repeated", "/devices/", [("q", "a"), ("q", "b"), ("sort", "uid")] * 3),
        _reads("list repeated", "/devices/", [(p, "x") for p in LIST_PARAMS] * 50),
        _reads("list many params", "/devices/", [(f"p{i}", str(i)) for i in range(1000)]),
        _reads("list empty names", "/devices/", [("", ""), ("", "x"), ("=", "=")]),
        Case("list raw query", "bare ampersands", "GET", "/devices/?&&&=&", read_only=True),
        Case("list raw query", "broken percent", "GET", "/devices/?q=%zz&sort=%", read_only=True),
        Case(
            "list raw query", "invalid UTF-8", "GET", "/devices/?q=%FF%FE%ED%A0%80", read_only=True
        ),
        Case("list raw query", "encoded NUL", "GET", "/devices/?q=%00&status=%00", read_only=True),
        Case(
            "list raw query", "semicolons", "GET", "/devices/?q=a;sort=uid;page=2", read_only=True
        ),
    ]
    batch.run(cases)
    batch.assert_clean()


def test_audit_log_filters_and_csv_export(batch):
    cases = []
    params = ["user", "device", "action", "outcome", "since", "until", "page"]
    for n, (label, value) in enumerate(query_values()):
        for param in pick(params, n, 3):
            path = ("/audit/", "/audit/export.csv", "/account/activity/")[n % 3]
            cases.append(_reads(f"audit {param}", path, [(param, value)], label=label))
    for date in DATES:
        for path in ("/audit/", "/audit/export.csv"):
            cases.append(_reads("audit dates", path, [("since", date), ("until", date)]))
    for word in NUMBER_WORDS:
        cases.append(_reads("audit page", "/audit/", [("page", word)]))
    headers = {"HX-Target": "audit-table"}
    cases += [
        _reads("audit htmx", "/audit/", [("page", "2")], htmx=True, headers=headers),
        _reads("audit repeated", "/audit/export.csv", [(p, "x") for p in params] * 20),
        _reads("audit many params", "/audit/", [(f"p{i}", str(i)) for i in range(1000)]),
    ]
    batch.run(cases)
    batch.assert_clean()


def test_panel_query_strings(batch, uid):
    cases = []
    pages = [
        ("firmware panel edit", f"/devices/{uid}/firmware/", "edit", False, "admin"),
        ("firmware panel follow", f"/devices/{uid}/firmware/", "follow", False, "admin"),
        ("firmware follow since", f"/devices/{uid}/firmware/follow/", "since", True, "admin"),
        ("commands panel device_name", f"/devices/{uid}/commands/", "device_name", False, "admin"),
        ("buttons panel device_name", f"/devices/{uid}/buttons/", "device_name", True, "admin"),
        ("sign-in next", "/login/", "next", False, "anonymous"),
    ]
    values = [*query_values(), *((w, w) for w in NUMBER_WORDS)]
    for n, (label, value) in enumerate(values):
        for group, path, param, htmx, role in pick(pages, n, 3):
            cases.append(_reads(group, path, [(param, value)], label=label, htmx=htmx, role=role))
    batch.run(cases)
    batch.assert_clean()
