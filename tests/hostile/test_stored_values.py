"""Hostile values stored through the portal, then shown by it: a round trip.

What the portal accepted and the upstream stored comes back on every page that shows it (the
device list, the device's page, the buttons panel, the firmware panel) and in the audit log
and its CSV export. Whatever the portal let through must display, for everyone, afterwards.
"""

from __future__ import annotations

import json
from urllib.parse import quote_from_bytes

import pytest

from tests.hostile.corpus import JSON_TEXTS, texts
from tests.hostile.harness import Case, query

pytestmark = pytest.mark.multi


def _then_show(group: str, label: str, pages: list[tuple[str, bool]]) -> list[Case]:
    return [
        Case(group, label, "GET", path, htmx=htmx, keep_state=True, read_only=True)
        for path, htmx in pages
    ]


def test_values_stored_upstream_are_shown_afterwards(batch, uid):
    firmware_id = 2
    device_pages = [("/devices/?q=a", True), (f"/devices/{uid}/", False)]
    cases = []
    for n, (label, value) in enumerate(texts(mixes=4)):
        field = ("name", "description")[n % 2]
        cases.append(
            Case(f"stored {field}", label, "POST", f"/devices/{uid}/rename/", form={field: value})
        )
        cases += _then_show(f"stored {field}", label, device_pages)
        form = {"name": value, "version": value[:50], "notes": value[:1000]}
        cases.append(
            Case(
                "stored firmware",
                label,
                "POST",
                f"/devices/{uid}/firmware/{firmware_id}/update/",
                form=form,
            )
        )
        cases += _then_show("stored firmware", label, [(f"/devices/{uid}/firmware/", False)])
        button = {"id": f"s{n}", "label": value[:64], "payload": json.dumps({"v": value})}
        cases.append(
            Case("stored button", label, "POST", f"/devices/{uid}/buttons/create/", form=button)
        )
        cases += _then_show("stored button", label, [(f"/devices/{uid}/buttons/", True)])
    for n, (label, text) in enumerate(JSON_TEXTS):
        button = {"id": f"j{n}", "label": "JSON", "payload": text}
        cases.append(
            Case(
                "stored button payload",
                label,
                "POST",
                f"/devices/{uid}/buttons/create/",
                form=button,
            )
        )
        cases += _then_show("stored button payload", label, [(f"/devices/{uid}/buttons/", False)])
    batch.run(cases)
    batch.assert_clean()


def test_the_audit_log_shows_every_hostile_entry(batch, uid):
    """Every write above and in the other hostile tests left entries: the log shows them."""
    seeds = []
    for label, value in texts(long=False):
        seeds.append(
            Case(
                "audit seed",
                label,
                "POST",
                f"/devices/{uid}/commands/send/",
                form={"payload": json.dumps({"v": value}), "send_anyway": "on"},
            )
        )
        seeds.append(
            Case(
                "audit seed",
                label,
                "POST",
                "/login/",
                role="anonymous",
                form={"username": value, "password": "x"},
            )
        )
        segment = quote_from_bytes((value or "x").encode("utf-8", "surrogatepass"), safe="")
        seeds.append(
            Case(
                "audit seed",
                label,
                "POST",
                f"/devices/{segment}/reboot/",
                role="viewer",
                form={"confirmed": "yes"},
            )
        )
    batch.run(seeds)
    pages = []
    for page in range(1, 8):
        pages += [
            Case("audit page", f"page {page}", "GET", f"/audit/{query({'page': str(page)})}"),
            Case("audit page", f"page {page}", "GET", f"/account/activity/?page={page}"),
        ]
    pages += [
        Case(
            "audit page",
            "htmx table",
            "GET",
            "/audit/?page=2",
            htmx=True,
            headers={"HX-Target": "audit-table"},
        ),
        Case("audit CSV", "everything", "GET", "/audit/export.csv"),
        Case(
            "audit CSV", "sign-in failures", "GET", "/audit/export.csv?action=auth.sign_in_failed"
        ),
        Case("audit CSV", "refusals", "GET", "/audit/export.csv?outcome=refused"),
        Case("audit filter", "device", "GET", f"/audit/?device={uid}"),
    ]
    batch.run(pages)
    batch.assert_clean()
