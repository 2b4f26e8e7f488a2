"""Hostile tag names and selections: the tag forms of a device's page and of the selection bar,
the selection's own endpoint (its op, its boxes, the table's query it carries), and the tag
filter and the tags page.

Beyond the harness's checks (no 500, no token, only API.md's endpoints upstream), each tag write
leaves exactly one audit row of its action: a tag is the portal's own record, so no upstream
write is there to count it against.
"""

from __future__ import annotations

import pytest

from tests.hostile.corpus import query_values, texts
from tests.hostile.harness import Case, query

pytestmark = pytest.mark.multi

TAG_ACTIONS = ("tag.add", "tag.remove")


def _run_counting(batch, cases: list[Case], expected_rows: int | None = 1) -> list[str]:
    """Run each case; a case that reached its view (200, 302, 403) must leave exactly
    `expected_rows` tag rows, any other at most that many. Returns the problems."""
    problems = []
    for case in cases:
        last = batch.portal.last_audit_id()
        result = batch.run_one(case)
        rows = [r for r in batch.portal.audit_since(last) if r[1] in TAG_ACTIONS]
        reached = result.status in (200, 302, 403)
        if expected_rows is not None and (
            (reached and len(rows) != expected_rows) or len(rows) > expected_rows
        ):
            problems.append(
                f"{case.group} [{case.label}] -> {result.status}: {len(rows)} tag rows "
                f"(expected {expected_rows})"
            )
    return problems


def test_a_devices_tag_forms(batch, uid):
    cases = []
    for n, (label, value) in enumerate(texts(huge=True)):
        for url in ("add", "remove"):
            form = {"tag": value, "device_name": value}
            path = f"/fleet/devices/{uid}/tags/{url}/"
            role = "viewer" if n % 7 == 3 else "operator"
            cases.append(
                Case(f"tag {url}", label, "POST", path, role=role, form=form, htmx=n % 2 == 0,
                     refused=role == "viewer")
            )  # fmt: skip
    # The field repeated, missing, or as a list; the uid as the path gives it.
    path = f"/fleet/devices/{uid}/tags/add/"
    cases.append(Case("tag add", "tag twice", "POST", path, form=[("tag", "a"), ("tag", "b")]))
    cases.append(Case("tag add", "no tag field", "POST", path, form={"device_name": "x"}))
    cases.append(Case("tag add", "foreign uid", "POST", "/fleet/devices/x%00y/tags/add/",
                      form={"tag": "t"}))  # fmt: skip
    problems = _run_counting(batch, cases)
    batch.assert_clean()
    assert problems == [], problems[:10]


def test_the_selections_tag_forms(batch, uid):
    # Select one device (the session is the operator's for the whole batch), then tag it.
    batch.run_one(
        Case("select", "one device", "POST", "/devices/-/selection/?q=Greenhouse",
             role="operator", form={"op": "all"})
    )  # fmt: skip
    # The table shows the tag on this backend too (its query is precompiled per database).
    batch.run_one(
        Case("selection tag add", "plain", "POST", "/fleet/selection/tags/add/",
             role="operator", form={"tag": "Shown here"}, keep_state=True)
    )  # fmt: skip
    table = batch.run_one(
        Case("list", "tagged", "GET", "/devices/?q=Greenhouse", role="operator", read_only=True)
    )
    cases = []
    for n, (label, value) in enumerate(texts(huge=True)):
        url = "add" if n % 2 == 0 else "remove"
        form = {"tag": value, "next": value}
        cases.append(
            Case(f"selection tag {url}", label, "POST", f"/fleet/selection/tags/{url}/",
                 role="operator", form=form, keep_state=True)
        )  # fmt: skip
    problems = _run_counting(batch, cases)
    batch.assert_clean()
    assert problems == [], problems[:10]
    assert b'<a class="tag" href="?tag=Shown%20here">Shown here</a>' in table.body


def test_the_selection_endpoint(batch, uid):
    cases = []
    for n, (label, value) in enumerate(texts()):
        ops = ["set", "page", "all", "clear", "page_none", value]
        form = [("op", ops[n % len(ops)]), ("uid", value), ("uid", uid)]
        path = "/devices/-/selection/" + query([("q", value), ("tag", value), ("page", value)])
        cases.append(
            Case("selection", label, "POST", path, role="operator", form=form, htmx=n % 2 == 0)
        )
    cases.append(
        Case("selection", "as a viewer", "POST", "/devices/-/selection/", role="viewer",
             form={"op": "all"})
    )  # fmt: skip
    batch.run(cases)
    batch.assert_clean()


def test_the_tag_filter_and_the_tags_page(batch):
    cases = []
    for n, (label, value) in enumerate(query_values()):
        cases.append(
            Case("list tag", label, "GET", "/devices/" + query([("tag", value)]),
                 read_only=True, htmx=n % 3 == 0,
                 headers={"HX-Target": "device-table"} if n % 3 == 0 else {})
        )  # fmt: skip
        cases.append(
            Case("tags page", label, "GET", "/fleet/tags/" + query([("x", value)]),
                 read_only=True)
        )  # fmt: skip
    batch.run(cases)
    batch.assert_clean()


def test_hostile_device_ids_in_the_tag_urls(batch, emulator_server):
    from tests.hostile.test_path_segments import _segments

    cases = []
    for n, (label, raw) in enumerate(_segments(emulator_server)):
        base = f"/fleet/devices/{raw}/tags/"
        cases.append(Case("tags path uid", label, "GET", base, htmx=n % 2 == 1, read_only=True))
        for url in ("add/", "remove/"):
            role = "viewer" if n % 5 == 2 else "operator"
            cases.append(
                Case("tags path uid", label, "POST", base + url, role=role,
                     form={"tag": "hostile", "device_name": raw}, htmx=n % 2 == 0,
                     refused=role == "viewer")
            )  # fmt: skip
    problems = _run_counting(batch, cases[1::3] + cases[2::3])
    batch.run(cases[::3])
    batch.assert_clean()
    assert problems == [], problems[:10]
