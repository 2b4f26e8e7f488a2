"""Hostile path segments (uid, button id, firmware id) at every portal URL that takes one.

Each segment goes into the URL as written, percent-encoded or not: `%2F`, `%00`, `..`,
invalid UTF-8, 5,000 characters. The portal must answer (a 404 or a message, never a 500),
send nothing upstream but a legitimate path, and record each write it attempts once. A viewer
posting the same URLs is refused before any upstream call, and each refusal is recorded once.
"""

from __future__ import annotations

import pytest

from emulator.pytest_plugin import TOKEN_B
from tests import firmware_samples as samples
from tests.hostile.corpus import NUMBERS, SEGMENTS, pick
from tests.hostile.harness import Case

pytestmark = pytest.mark.multi

PAYLOAD = '{"led": 1}'
MD5 = "0123456789abcdef0123456789abcdef"

# (URL under /devices/{uid}, is it an htmx request): every GET page that takes a uid.
PAGES = [
    ("/", False),
    ("/field/name/", True),
    ("/edit/name/", True),
    ("/commands/", False),
    ("/buttons/", True),
    ("/firmware/", False),
    ("/firmware/follow/", True),
    ("/firmware/1/", True),
    ("/firmware/1/edit/", True),
]

# (URL under /devices/{uid}, form fields): every write that takes a uid.
WRITES = [
    ("/rename/", {"name": "Renamed"}),
    ("/commands/send/", {"payload": PAYLOAD}),
    ("/reboot/", {"confirmed": "yes"}),
    ("/wifi-reset/", {"confirmed": "yes"}),
    ("/ota/", {"confirmed": "yes"}),
    ("/buttons/create/", {"id": "hostile", "label": "Hostile", "payload": PAYLOAD}),
    ("/firmware/check/", {"size": "1000"}),
    ("/firmware/target/", {"md5": MD5, "confirmed": "yes"}),
    ("/firmware/ota/", {"confirmed": "yes"}),
    ("/firmware/1/update/", {"name": "x", "version": "1.0"}),
    ("/firmware/1/delete/", {"confirmed": "yes"}),
]


def _segments(emulator) -> list[tuple[str, str]]:
    foreign = emulator.uids(TOKEN_B)[0]
    return [(label, foreign if raw == "@foreign" else raw) for label, raw in SEGMENTS]


def _upload(label: str, path: str, role: str) -> Case:
    image = samples.esp8266_image(2000, salt=f"segment {label}")
    return Case(
        "path uid",
        label,
        "POST",
        path + "firmware/upload/",
        role=role,
        files={"name": (None, b"hostile"), "file": ("a.bin", image)},
        refused=role == "viewer",
    )


def uid_cases(emulator, role: str) -> list[Case]:
    cases = []
    for n, (label, raw) in enumerate(_segments(emulator)):
        base = f"/devices/{raw}"
        if role == "admin":
            cases += [
                Case("path uid", label, "GET", base + page, htmx=htmx or n % 2 == 1)
                for page, htmx in pick(PAGES, n, 3)
            ]
        cases += [
            Case(
                "path uid",
                label,
                "POST",
                base + url,
                role=role,
                form=form,
                htmx=n % 2 == 0,
                refused=role == "viewer",
            )
            for url, form in pick(WRITES, n, 8 if role == "admin" else 6)
        ]
        cases.append(_upload(label, base + "/", role))
    return cases


def test_hostile_device_ids_in_every_url(batch, emulator_server):
    batch.run(uid_cases(emulator_server, "admin"))
    batch.assert_clean()


def test_hostile_device_ids_in_every_write_refused_to_a_viewer(batch, emulator_server):
    batch.run(uid_cases(emulator_server, "viewer"))
    batch.assert_clean()


def test_hostile_button_and_firmware_ids(batch, uid):
    cases = []
    for n, (label, raw) in enumerate(SEGMENTS):
        for action in ("send", "delete"):
            cases.append(
                Case(
                    "path button id",
                    label,
                    "POST",
                    f"/devices/{uid}/buttons/{raw}/{action}/",
                    form={"confirmed": "yes"},
                    htmx=n % 2 == 0,
                )
            )
    for label, number in NUMBERS:
        base = f"/devices/{uid}/firmware/{number}"
        cases += [
            Case("path firmware id", label, "GET", f"{base}/", htmx=True),
            Case("path firmware id", label, "GET", f"{base}/edit/", htmx=True),
            Case("path firmware id", label, "POST", f"{base}/update/", form={"name": "x"}),
            Case("path firmware id", label, "POST", f"{base}/delete/", form={"confirmed": "yes"}),
            Case("path firmware id", label, "GET", f"/devices/{uid}/firmware/?edit={number}"),
        ]
    batch.run(cases)
    batch.assert_clean()
