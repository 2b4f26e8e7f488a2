"""Input the portal cannot store, show or send faithfully is refused before any upstream call,
with a clear message and exactly one audit row; never a 500, never a write then a lost row.

These run on SQLite in the main run and again on PostgreSQL (which refuses NUL and lone
surrogates in text and jsonb outright, where the write used to reach the device and its
audit row then failed): `test_they_all_hold_on_postgresql` re-runs this module there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection
from django.urls import reverse

from portal.models import AuditEvent
from tests.devices_helpers import HTMX, uid_of

CONFIRMED = {"confirmed": "yes"}
ON_POSTGRES = "PORTAL_TEST_WRITES_ON_POSTGRES"
ROOT = Path(__file__).resolve().parent.parent


def _writes(emulator) -> list[dict]:
    return [e for e in emulator.request_log if e["method"] != "GET"]


def _one_refusal(action: str) -> AuditEvent:
    rows = list(AuditEvent.objects.all())
    assert [(r.action, r.outcome) for r in rows] == [(action, "refused")]
    return rows[0]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("name", "Kitchen\x00Relay", "NUL character"),
        ("description", "x" * 4_000_000, "at most 65,536"),
    ],
)
def test_a_rename_it_cannot_store_is_refused_and_recorded_once(
    as_operator, emulator, field, value, words
):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    response = as_operator.post(reverse("devices:rename", args=[uid]), {field: value}, headers=HTMX)
    assert response.status_code == 200
    assert words in response.content.decode()
    assert _writes(emulator) == []
    row = _one_refusal("device.rename")
    assert len(json.dumps(row.sent)) < 9 * 1024  # a 4 MB description is not a 4 MB row


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ('{"relay": "\\u0000"}', "NUL character"),
        ('{"relay": "\\ud800"}', "lone surrogate"),
        ('{"level": NaN}', "Line 1, column 11: NaN is not a number JSON allows"),
        ('{"level":\n Infinity}', "Line 2, column 2: Infinity"),
        ('{"level": 1e999}', "Line 1, column 11: 1e999 is too large"),
        ('{"level": ' + "9" * 5000 + "}", "too large an integer"),
        ('{"level": 9223372036854775808}', "too large an integer"),
        ('{"a": ' + "[" * 40 + "]" * 40 + "}", "nested more than 32 levels"),
    ],
)
def test_a_command_it_cannot_send_faithfully_is_refused_with_a_clear_message(
    as_operator, emulator, payload, words
):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    response = as_operator.post(
        reverse("devices:send_command", args=[uid]), {"payload": payload}, headers=HTMX
    )
    assert response.status_code == 200
    assert words in response.content.decode()
    assert _writes(emulator) == []
    _one_refusal("device.command")


@pytest.mark.parametrize(
    ("button", "words"),
    [
        ({"id": "b1", "label": "On\x00", "payload": '{"a": 1}'}, "Null characters"),
        ({"id": "b1", "label": "On", "payload": '{"a": "\\ud83d"}'}, "lone surrogate"),
        ({"id": "b1", "label": "On", "payload": '{"a": "\\u0000"}'}, "NUL character"),
    ],
)
def test_a_button_it_cannot_store_is_refused_and_recorded_once(
    as_maintainer, emulator, button, words
):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    response = as_maintainer.post(
        reverse("devices:create_button", args=[uid]), button, headers=HTMX
    )
    assert response.status_code == 200 and words in response.content.decode()
    assert _writes(emulator) == []
    _one_refusal("button.create")


def test_a_nul_in_the_path_is_refused_and_recorded(as_operator, emulator):
    emulator.clear_log()
    path = reverse("devices:reboot", args=["x"]).replace("/x/", "/%00/")
    response = as_operator.post(path, CONFIRMED, headers=HTMX)
    assert response.status_code == 200
    assert _writes(emulator) == []
    assert _one_refusal("device.reboot").device_uid == "\\u0000"


def test_a_role_refusal_with_a_nul_in_the_path_is_recorded(as_viewer, emulator):
    path = reverse("devices:reboot", args=["x"]).replace("/x/", "/ab%00cd/")
    assert as_viewer.post(path, CONFIRMED).status_code == 403
    assert _one_refusal("device.reboot").device_uid == "ab\\u0000cd"


def test_a_firmware_edit_it_cannot_store_is_refused_and_recorded(as_maintainer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    response = as_maintainer.post(
        reverse("firmware:update", args=[uid, 1]),
        {"name": "fw\x00", "version": "1", "notes": ""},
        headers=HTMX,
    )
    assert response.status_code == 422
    assert _writes(emulator) == []
    _one_refusal("firmware.update")


def test_a_target_md5_with_a_nul_is_refused_and_recorded(as_maintainer, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    response = as_maintainer.post(
        reverse("firmware:set_target", args=[uid]), {"md5": "ab\x00", **CONFIRMED}, headers=HTMX
    )
    assert response.status_code == 200
    assert _writes(emulator) == []
    _one_refusal("firmware.set_target")


@pytest.mark.skipif(bool(os.environ.get(ON_POSTGRES)), reason="this is the run it starts")
def test_they_all_hold_on_postgresql(tmp_path):
    admin_url = os.environ.get("PORTAL_TEST_POSTGRES_URL", "")
    if not admin_url:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("CI must run the write path on PostgreSQL: set PORTAL_TEST_POSTGRES_URL.")
        pytest.skip("set PORTAL_TEST_POSTGRES_URL to run the write path on PostgreSQL")
    # A database name of its own (Django adds test_): parallel runs must not share one.
    parts = urlsplit(admin_url)
    url = urlunsplit(parts._replace(path=f"/portal_writes_{os.getpid()}"))
    env = {**os.environ, "DATABASE_URL": url, ON_POSTGRES: "1", "PORTAL_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", __file__],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed, 1 skipped" in result.stdout  # only this test skips itself there


def test_this_run_is_on_the_database_it_claims():
    if os.environ.get(ON_POSTGRES):
        assert connection.vendor == "postgresql"
