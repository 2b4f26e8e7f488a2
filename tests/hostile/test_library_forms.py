"""Hostile input at the firmware library (fleet/library_views.py): the upload form's fields,
file names and files, the image check, the delete confirmation's fields, and broken device
answers while looking for a build. Each case: no 500, no traceback, no token, no off-path
upstream call (the harness), and at most one `library.*` audit row for one request."""

from __future__ import annotations

import json

import pytest

from emulator.pytest_plugin import TOKEN_A
from tests import firmware_samples as samples
from tests.hostile.answers import dumps, generic, mutations
from tests.hostile.corpus import MB, NUMBER_WORDS, texts
from tests.hostile.harness import Answer, Case

pytestmark = pytest.mark.multi

UPLOAD = "/fleet/library/upload/"
CHECK = "/fleet/library/check/"


def run_counting_rows(batch, cases: list[Case]) -> None:
    """Run the cases; each may leave at most one row of the library's own writes."""
    too_many = []
    for case in cases:
        last = batch.portal.last_audit_id()
        batch.run_one(case)
        library_rows = [a for _, a, _ in batch.portal.audit_since(last) if a.startswith("library.")]
        if len(library_rows) > 1:
            too_many.append(f"{case.group} [{case.label}]: {library_rows}")
    assert too_many == []


def a_build(batch, salt: str) -> int:
    """A build of the team's library, added through the portal; its id."""
    files = {
        "name": (None, b"Hostile base"),
        "file": ("base.bin", samples.esp8266_image(5000, f"library {salt}")),
    }
    batch.run_one(Case("library setup", salt, "POST", UPLOAD, files=files))
    (pk,) = batch.portal.query("SELECT MAX(id) FROM fleet_build")[0]
    assert pk, "the setup build was added"
    return pk


def test_library_upload_fields_and_files(batch):
    cases = []
    for n, (label, value) in enumerate(texts()):
        field = ("name", "version", "notes", "upload_anyway")[n % 4]
        raw = value.encode("utf-8", "surrogatepass")
        parts = {"name": b"Hostile", "version": b"1.0", "notes": b"", field: raw}
        files = {k: (None, v) for k, v in parts.items()}
        files["file"] = ("hostile.bin", samples.esp32_image(size=3000, salt=f"library {n}"))
        cases.append(Case(f"library {field}", label, "POST", UPLOAD, files=files, htmx=n % 2))
    for n, (label, value) in enumerate(texts(long=False, mixes=4)):
        files = {
            "name": (None, b"Hostile"),
            "file": (value + ".bin", samples.sized(2048, f"library fn {n}")),
        }
        cases.append(Case("library filename", label, "POST", UPLOAD, files=files, htmx=n % 2))
    for label, content in [
        ("empty file", b""),
        ("one byte", b"\xe9"),
        ("text file", samples.text_file()),
        ("zip file", samples.zip_file("library")),
        ("gzip image", samples.gzip_image(20_000, "library")),
        ("ELF file", samples.elf_file("library")),
        ("exactly 4 MB", samples.sized(4 * MB, "library four")),
        ("4 MB and one byte", samples.sized(4 * MB + 1, "library four+1")),
        ("NUL bytes", b"\x00" * 4096),
    ]:
        for confirmed in (b"", b"on"):
            files = {"name": (None, b"Hostile"), "upload_anyway": (None, confirmed)}
            files["file"] = ("hostile.bin", content)
            cases.append(Case("library file", label, "POST", UPLOAD, files=files))
    cases.append(Case("library file", "no file part", "POST", UPLOAD, files={"name": (None, b"x")}))
    run_counting_rows(batch, cases)
    batch.assert_clean()


def test_library_image_check_sizes_and_heads(batch):
    cases = []
    for n, word in enumerate(NUMBER_WORDS):
        files = {"size": (None, word.encode()), "head": ("h.bin", b"\xe9" * (n * 100))}
        cases.append(Case("library check size", repr(word)[:40], "POST", CHECK, files=files))
    for label, head in [
        ("none", None),
        ("gzip", samples.gzip_image(5000)),
        ("ELF", samples.elf_file()),
    ]:
        files = {"size": (None, b"5000")}
        if head is not None:
            files["head"] = ("h.bin", head)
        cases.append(Case("library check head", label, "POST", CHECK, files=files, htmx=True))
    batch.run(cases)
    batch.assert_clean()


def test_library_delete_confirmation_repeats_any_field(batch):
    pk = a_build(batch, "delete")
    path = f"/fleet/library/{pk}/delete/"
    cases = []
    for n, (label, value) in enumerate(texts()):
        form = [("label", value), (value[:1000] or "x", value[:1000]), ("confirmed", value)]
        cases.append(Case("library delete field", label, "POST", path, form=form, htmx=n % 2))
    run_counting_rows(batch, cases)
    batch.assert_clean()
    assert batch.portal.query("SELECT COUNT(*) FROM fleet_build WHERE id = %s", (pk,))[0][0] == 1


def test_looking_for_a_build_through_broken_device_answers(batch):
    pk = a_build(batch, "find")
    path = f"/fleet/library/{pk}/find/"
    uid = batch.emulator.device_uid(TOKEN_A, "Greenhouse Sensor")
    state = batch.emulator.state
    detail = state.device_detail(TOKEN_A, uid)
    cases = []
    for n, (label, status, headers, body) in enumerate(generic("object")):
        answer = Answer(f"^/v1/user/devices/{uid}$", status, headers, body, label)
        cases.append(Case("library find detail", label, "POST", path, answers=[answer], htmx=n % 2))
    for label, changed in mutations(detail, per_field=3):
        body = dumps({"data": changed})
        answer = Answer(
            f"^/v1/user/devices/{uid}$", 200, {"Content-Type": "application/json"}, body
        )
        cases.append(Case("library find detail field", label, "POST", path, answers=[answer]))
    for label, status, headers, body in generic("list")[:12]:
        answer = Answer("^/v1/user/devices$", status, headers, body, label)
        cases.append(Case("library find list", label, "POST", path, answers=[answer]))
    for label, status, headers, body in generic("list")[:12]:
        answer = Answer(f"^/v1/user/devices/{uid}/firmwares$", status, headers, body, label)
        cases.append(Case("library find firmwares", label, "POST", path, answers=[answer]))
    odd_uids = ["../x", "a/b", "a%2Fb", "\u202e", "", "x" * 300, "ok_uid?q=1"]
    listing = {"data": [{"uid": u, "name": u} for u in odd_uids]}
    answer = Answer("^/v1/user/devices$", 200, {"Content-Type": "application/json"},
                    json.dumps(listing).encode())  # fmt: skip
    cases.append(Case("library find list", "odd uids", "POST", path, answers=[answer]))
    batch.run(cases)
    batch.assert_clean()
    page = batch.run_one(
        Case("library build page", "after the looks", "GET", f"/fleet/library/{pk}/")
    )
    assert page.status == 200
