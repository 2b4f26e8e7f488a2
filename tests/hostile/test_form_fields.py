"""Hostile form fields and payloads at every device and firmware write.

Every field a user types (name, description, payload, button id/label/payload, firmware name,
version, notes, md5, the uploaded file and its name, the fields a confirmation page repeats)
gets the corpus: NUL, lone surrogates, CRLF, bidi, templates, HTML, 100 KB and 4 MB strings,
and JSON that Python reads but PostgreSQL cannot store (NaN, 1e999, 5,000 digits, `\\u0000`).
"""

from __future__ import annotations

import json

import pytest

from tests import firmware_samples as samples
from tests.hostile.corpus import JSON_TEXTS, MB, NUMBER_WORDS, pick, texts
from tests.hostile.harness import Case

pytestmark = pytest.mark.multi


def _json_wrapped(value: str) -> str:
    """The text as a JSON string value: NUL and lone surrogates become valid JSON escapes."""
    return json.dumps({"message": value})


def test_rename_name_and_description(batch, uid):
    cases = []
    for n, (label, value) in enumerate(texts(huge=True)):
        for field in ("name", "description"):
            form = {field: value, "device_name": value}
            path = f"/devices/{uid}/rename/"
            cases.append(Case(f"rename {field}", label, "POST", path, form=form, htmx=n % 2 == 0))
    batch.run(cases)
    batch.assert_clean()


def test_command_payloads(batch, uid):
    path = f"/devices/{uid}/commands/send/"
    cases = [
        Case("command payload", label, "POST", path, form={"payload": text}, htmx=n % 2 == 0)
        for n, (label, text) in enumerate(JSON_TEXTS)
    ]
    cases += [
        Case(
            "command payload string",
            label,
            "POST",
            path,
            form={"payload": _json_wrapped(value), "send_anyway": "on"},
            htmx=n % 2 == 1,
        )
        for n, (label, value) in enumerate(texts(huge=True))
    ]
    cases += [
        Case("command field", label, "POST", path, form={"payload": '{"a": 1}', "send_anyway": v})
        for label, v in texts(long=False, mixes=0)
    ]
    batch.run(cases)
    batch.assert_clean()


def test_command_button_fields(batch, uid):
    path = f"/devices/{uid}/buttons/create/"
    good = {"id": "hostile", "label": "Hostile", "payload": '{"a": 1}'}
    cases = []
    for n, (label, value) in enumerate(texts(huge=True)):
        for field in ("id", "label", "confirm", "draft"):
            form = {**good, "id": f"b{n}{field}", field: value}
            cases.append(Case(f"button {field}", label, "POST", path, form=form, htmx=n % 2 == 0))
        wrapped = {**good, "id": f"w{n}", "payload": _json_wrapped(value)}
        cases.append(Case("button payload string", label, "POST", path, form=wrapped))
    for n, (label, text) in enumerate(JSON_TEXTS):
        form = {**good, "id": f"j{n}", "payload": text}
        cases.append(Case("button payload", label, "POST", path, form=form, htmx=n % 2 == 1))
    batch.run(cases)
    batch.assert_clean()


def test_firmware_metadata_fields(batch, uid):
    firmware_id = _a_firmware_id(batch, uid)
    path = f"/devices/{uid}/firmware/{firmware_id}/update/"
    good = {"name": "Hostile", "version": "1.0", "notes": ""}
    cases = [
        Case(f"firmware {field}", label, "POST", path, form={**good, field: value}, htmx=n % 2)
        for n, (label, value) in enumerate(texts(huge=True))
        for field in ("name", "version", "notes")
    ]
    batch.run(cases)
    batch.assert_clean()


def _a_firmware_id(batch, uid) -> int:
    firmwares = batch.emulator.state.list_firmwares(batch.emulator.state.token_for_uid(uid), uid)
    return firmwares[0]["id"]


def test_firmware_upload_fields_and_files(batch, uid):
    path = f"/devices/{uid}/firmware/upload/"
    cases = []
    for n, (label, value) in enumerate(texts()):
        field = ("name", "version", "notes")[n % 3]
        raw = value.encode("utf-8", "surrogatepass")
        parts = {"name": b"Hostile", "version": b"1.0", "notes": b"", field: raw}
        image = samples.esp32_image(size=3000, salt=f"upload {n}")
        files = {k: (None, v) for k, v in parts.items()}
        files["upload_anyway"] = (None, b"on")
        if n % 4 == 0:
            files["rollout"] = (None, b"on")
        files["file"] = ("hostile.bin", image)
        cases.append(Case(f"upload {field}", label, "POST", path, files=files, htmx=n % 2 == 0))
    for n, (label, value) in enumerate(texts(long=False, mixes=4)):
        files = {
            "name": (None, b"Hostile"),
            "upload_anyway": (None, b"on"),
            "file": (value + ".bin", samples.sized(2048, f"fn {n}")),
        }
        cases.append(Case("upload filename", label, "POST", path, files=files))
    for label, content in [
        ("empty file", b""),
        ("one byte", b"\xe9"),
        ("text file", samples.text_file()),
        ("zip file", samples.zip_file("hostile")),
        ("gzip image", samples.gzip_image(20_000, "hostile")),
        ("ELF file", samples.elf_file("hostile")),
        ("exactly 4 MB", samples.sized(4 * MB, "four")),
        ("4 MB and one byte", samples.sized(4 * MB + 1, "four+1")),
        ("NUL bytes", b"\x00" * 4096),
    ]:
        files = {"name": (None, b"Hostile"), "upload_anyway": (None, b"on")}
        files["file"] = ("hostile.bin", content)
        cases.append(Case("upload file", label, "POST", path, files=files))
    cases.append(
        Case("upload file", "no file part", "POST", path, files={"name": (None, b"Hostile")})
    )
    batch.run(cases)
    batch.assert_clean()


def test_set_target_md5_and_image_check(batch, uid):
    target = f"/devices/{uid}/firmware/target/"
    check = f"/devices/{uid}/firmware/check/"
    md5s = [*texts(long=False), ("uppercase md5", "ABCDEF0123456789ABCDEF0123456789")]
    md5s += [("31 hex", "a" * 31), ("33 hex", "a" * 33), ("100 KB", "a" * 100_000)]
    cases = [
        Case("set-target md5", label, "POST", target, form={"md5": v, "confirmed": c})
        for label, v in md5s
        for c in ("yes", "")
    ]
    for n, word in enumerate(NUMBER_WORDS):
        files = {"size": (None, word.encode()), "head": ("h.bin", b"\xe9" * (n * 100))}
        cases.append(Case("image check size", repr(word)[:40], "POST", check, files=files))
    batch.run(cases)
    batch.assert_clean()


def test_confirmation_pages_repeat_any_field(batch, uid):
    """Without `confirmed=yes` each action asks first, showing what was posted."""
    cases = []
    for n, (label, value) in enumerate(texts()):
        form = [("device_name", value), ("label", value), (value[:1000] or "x", value[:1000])]
        for url in pick(["reboot/", "wifi-reset/", "ota/", "buttons/read_now/delete/"], n, 2):
            cases.append(
                Case("confirmation page", label, "POST", f"/devices/{uid}/{url}", form=form)
            )
        send = [*form, ("needs_confirm", "yes")]
        cases.append(
            Case("confirmation page", label, "POST", f"/devices/{uid}/buttons/x/send/", form=send)
        )
        cases.append(
            Case(
                "confirmation field",
                label,
                "POST",
                f"/devices/{uid}/reboot/",
                form={"confirmed": value},
                htmx=n % 2 == 0,
            )
        )
    batch.run(cases)
    batch.assert_clean()
