"""The firmware library (fleet/library.py, fleet/library_views.py): add a build once, see where
it is on the fleet's devices, delete it."""

from __future__ import annotations

import hashlib
import html
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A, TOKEN_B
from fleet import library
from fleet.models import Build, BuildFile, BuildPlace
from portal import services
from portal.iot import FIRMWARE_TOO_LARGE
from portal.models import AuditEvent
from portal.roles import Role
from tests import firmware_samples as samples
from tests.conftest import make_user
from tests.hostile.corpus import MB

LIBRARY = "/fleet/library/"


def text(response) -> str:
    return html.unescape(response.content.decode())


def upload(client, data: bytes, *, name="Relay firmware", version="1.1.0", htmx=False, **more):
    form = {
        "name": name,
        "version": version,
        "notes": "First build",
        "file": SimpleUploadedFile("relay.bin", data),
        **more,
    }
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse("fleet:library_upload"), form, **headers)


def rows(action: str):
    return AuditEvent.objects.filter(action=action)


def a_build(token, md5: str, name: str = "Known build") -> Build:
    build = Build.objects.create(token=token, name=name, version="1.0", md5=md5, size=3)
    BuildFile.objects.create(build=build, content=b"abc")
    return build


# --- adding a build ---------------------------------------------------------------------------


def test_a_maintainer_adds_a_build_once_with_its_checks_md5_and_who(as_maintainer, maintainer):
    data = samples.esp32_image("ESP32-C3", size=200_000, app=samples.app_description("3.2.0"))
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    response = upload(as_maintainer, data, htmx=True)
    assert response.status_code == 200 and response["HX-Trigger"] == "firmware-uploaded"
    assert f"Build “Relay firmware” 1.1.0 added to the library (md5 {md5})." in text(response)
    build = Build.objects.get()
    assert (build.name, build.version, build.notes, build.md5, build.size) == (
        "Relay firmware", "1.1.0", "First build", md5, len(data),
    )  # fmt: skip
    assert (build.kind, build.chip, build.app["version"]) == ("esp32", "ESP32-C3", "3.2.0")
    assert build.uploaded_by == maintainer and build.uploaded_by_name == "maintainer"
    assert bytes(build.file.content) == data  # the file itself, in the database
    (row,) = rows("library.upload")
    assert row.outcome == "ok" and row.sent["md5"] == md5 and row.sent["build"] == build.pk
    assert row.device_uid == ""  # a write of the portal's own records


def test_the_library_lists_the_build_with_its_md5_for_a_viewer_without_the_forms(
    as_viewer, token_a
):
    build = a_build(token_a, "0" * 32)
    page = text(as_viewer.get(LIBRARY))
    assert build.md5 in page and "Known build" in page
    assert "Add to library" not in page and reverse("fleet:library_upload") not in page
    detail = text(as_viewer.get(reverse("fleet:library_build", args=[build.pk])))
    assert build.md5 in detail
    assert "Delete build" not in detail and "Look at the next" not in detail


def test_a_plain_post_goes_to_the_new_builds_page(as_maintainer):
    response = upload(as_maintainer, samples.esp8266_image(50_000, "plain"))
    build = Build.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("fleet:library_build", args=[build.pk])


def test_a_duplicate_says_so_and_points_to_the_existing_build(as_maintainer, as_admin):
    data = samples.esp8266_image(50_000, "twice")
    upload(as_maintainer, data)
    first = Build.objects.get()
    response = upload(as_maintainer, data, name="Again", htmx=True)
    body = text(response)
    assert f"This file is already in the library: “Relay firmware” 1.1.0 (md5 {first.md5})." in body
    assert reverse("fleet:library_build", args=[first.pk]) in body
    assert Build.objects.count() == 1
    assert list(rows("library.upload").values_list("outcome", flat=True)) == ["refused", "ok"]


def test_warnings_are_asked_first_and_a_confirmed_build_keeps_them(as_maintainer):
    data = samples.zip_file("warned")
    response = upload(as_maintainer, data, htmx=True)
    assert response["HX-Retarget"] == "#image-check"
    assert "This is not an ESP firmware image: it looks like a zip archive." in text(response)
    assert "Add anyway" in text(response)
    assert not Build.objects.exists() and not rows("library.upload").exists()

    upload(as_maintainer, data, htmx=True, upload_anyway="on")
    build = Build.objects.get()
    assert build.warnings == ["This is not an ESP firmware image: it looks like a zip archive."]
    assert rows("library.upload").get().sent["warnings_confirmed"] == build.warnings


def test_an_empty_file_is_refused_with_one_row(as_maintainer):
    response = upload(as_maintainer, b"", htmx=True)
    assert "The file is empty." in text(response)
    assert not Build.objects.exists()
    assert rows("library.upload").get().outcome == "refused"


def test_a_file_over_4_mb_is_refused_and_a_body_far_over_it_is_not_read(as_maintainer):
    response = upload(as_maintainer, b"\xe9" * (4 * MB + 1), htmx=True)
    assert FIRMWARE_TOO_LARGE in text(response)
    assert rows("library.upload").get().status_code == 413
    response = as_maintainer.post(
        reverse("fleet:library_upload"),
        {"name": "big", "file": SimpleUploadedFile("big.bin", b"\xe9" * (5 * MB))},
    )
    assert response.status_code == 413 and FIRMWARE_TOO_LARGE in text(response)
    assert rows("library.upload").count() == 2 and not Build.objects.exists()


def test_a_missing_name_is_refused_beside_its_field(as_maintainer):
    response = upload(as_maintainer, samples.esp8266_image(1000), name="", htmx=True)
    assert response["HX-Retarget"] == "#upload-form"
    assert 'aria-describedby="upload-name-error"' in response.content.decode()
    assert rows("library.upload").get().outcome == "refused"


def test_the_image_check_reads_the_first_bytes_without_a_device(as_maintainer, emulator):
    head = samples.esp32_image("ESP32-S3", size=4096, app=samples.app_description("9.9.9"))
    emulator.clear_log()
    response = as_maintainer.post(
        reverse("fleet:library_check"),
        {"head": SimpleUploadedFile("h.bin", head), "size": "900000"},
        HTTP_HX_REQUEST="true",
    )
    body = text(response)
    assert "ESP32-S3 application image. Built for ESP32-S3." in body
    assert 'data-suggested-version="9.9.9"' in body
    assert emulator.request_log == []  # nothing to compare with: no upstream read


def test_each_fleet_has_its_own_library(client, users, token_a, db):
    build = a_build(token_a, "1" * 32)
    other = make_user("elsewhere", Role.MAINTAINER, None)
    services.assign_token(other, services.save_token("Team B", TOKEN_B))
    client.force_login(other)
    assert build.md5 not in text(client.get(LIBRARY))
    assert client.get(reverse("fleet:library_build", args=[build.pk])).status_code == 404
    response = client.post(reverse("fleet:library_delete", args=[build.pk]), {"confirmed": "yes"})
    assert response.status_code == 404 and Build.objects.filter(pk=build.pk).exists()


def test_a_user_without_a_token_is_told_and_cannot_add(client, users, db):
    lonely = make_user("lonely", Role.MAINTAINER, None)
    client.force_login(lonely)
    page = text(client.get(LIBRARY))
    assert "No API token is mapped to your account yet." in page
    response = upload(client, samples.esp8266_image(1000))
    assert response.status_code == 403 and not Build.objects.exists()
    assert rows("library.upload").get().outcome == "refused"


# --- where it is --------------------------------------------------------------------------


def current_md5(emulator, name: str) -> str:
    uid = emulator.device_uid(TOKEN_A, name)
    return emulator.state.device_detail(TOKEN_A, uid)["current_firmware"]["md5"]


def look(client, build, htmx=True):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse("fleet:library_find", args=[build.pk]), **headers)


def test_a_look_reads_a_bounded_number_of_devices_and_finds_where_the_build_is(
    as_maintainer, token_a, emulator
):
    build = a_build(token_a, current_md5(emulator, "Garage Door"))
    emulator.clear_log()
    body = text(look(as_maintainer, build))
    reads = emulator.request_log
    assert len(reads) <= 1 + 2 * library.FIND_DEVICES
    assert {r["method"] for r in reads} == {"GET"}
    fleet = len(emulator.uids(TOKEN_A))
    assert f"Looked at {library.FIND_DEVICES} of {fleet} devices" in body
    assert BuildPlace.objects.count() == library.FIND_DEVICES

    look(as_maintainer, build)  # the next ones: devices never looked at come first
    assert BuildPlace.objects.count() == fleet
    garage = BuildPlace.objects.get(device_uid=emulator.device_uid(TOKEN_A, "Garage Door"))
    assert (garage.uploaded, garage.running, garage.target) == (True, True, True)
    assert garage.firmware_id
    others = BuildPlace.objects.exclude(pk=garage.pk)
    assert not others.filter(running=True).exists() and not others.filter(uploaded=True).exists()

    page = text(as_maintainer.get(reverse("fleet:library_build", args=[build.pk])))
    assert "Garage Door" in page
    for counter in ("count-uploaded", "count-running", "count-target"):
        assert f'id="{counter}">1<' in page


@pytest.mark.parametrize(
    "current",
    [
        "d41d8cd98f00b204e9800998ecf8427e",  # a bare md5 string
        ["a", 1],
        17,
        {"name": "no md5 here"},
        {"md5": 5},
        True,
    ],
    ids=["string", "list", "number", "object-without-md5", "md5-number", "bool"],
)
def test_odd_firmware_shapes_in_a_detail_are_unknown_never_a_500(
    as_maintainer, token_a, emulator, current
):
    uid = emulator.device_uid(TOKEN_A, "Greenhouse Sensor")
    detail = {**emulator.state.device_detail(TOKEN_A, uid), "current_firmware": current}
    detail.pop("target_firmware")
    body = json.dumps({"data": detail}).encode()
    emulator.set_fault(
        "raw", path=f"/devices/{uid}$", body=body, headers={"Content-Type": "application/json"}
    )
    build = a_build(token_a, "d41d8cd98f00b204e9800998ecf8427e")
    response = look(as_maintainer, build)
    assert response.status_code == 200
    place = BuildPlace.objects.get(device_uid=uid)
    assert place.running is (True if isinstance(current, str) else None)
    assert place.target is None  # absent: not known, not "no"
    assert as_maintainer.get(reverse("fleet:library_build", args=[build.pk])).status_code == 200


def test_odd_items_in_a_firmware_list_are_skipped(as_maintainer, token_a, emulator):
    uid = emulator.device_uid(TOKEN_A, "Greenhouse Sensor")
    body = json.dumps({"data": [1, "x", None, {"id": 7}, {"id": 8, "md5": ["no"]}]}).encode()
    emulator.set_fault(
        "raw", path=f"/devices/{uid}/firmwares$", body=body,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    build = a_build(token_a, "e" * 32)
    assert look(as_maintainer, build).status_code == 200
    assert BuildPlace.objects.get(device_uid=uid).uploaded is False


def test_a_device_whose_reads_fail_is_kept_with_the_problem(as_maintainer, token_a, emulator):
    uid = emulator.device_uid(TOKEN_A, "Greenhouse Sensor")
    emulator.set_fault("500", path=f"/devices/{uid}$")
    build = a_build(token_a, "f" * 32)
    assert look(as_maintainer, build).status_code == 200
    place = BuildPlace.objects.get(device_uid=uid)
    assert place.problem.startswith("Detail:")
    assert (place.uploaded, place.running, place.target) == (None, None, None)
    page = text(as_maintainer.get(reverse("fleet:library_build", args=[build.pk])))
    assert place.problem in page and "unknown" in page


def test_a_failing_device_list_is_a_message_not_an_error_page(as_maintainer, token_a, emulator):
    emulator.set_fault("500", path="^/v1/user/devices$")
    build = a_build(token_a, "a" * 32)
    response = look(as_maintainer, build)
    assert response.status_code == 200 and 'class="alert alert-error"' in response.content.decode()
    assert not BuildPlace.objects.exists()
    plain = look(as_maintainer, build, htmx=False)
    assert plain.status_code == 302


def test_the_portals_records_of_the_md5_show_on_the_builds_page(as_maintainer, token_a, emulator):
    uid = emulator.device_uid(TOKEN_A, "Front Porch Light")
    data = samples.esp8266_image(30_000, "recorded")
    as_maintainer.post(
        reverse("firmware:upload", args=[uid]),
        {"name": "Porch", "file": SimpleUploadedFile("p.bin", data)},
    )
    upload(as_maintainer, data)
    build = Build.objects.get()
    page = text(as_maintainer.get(reverse("fleet:library_build", args=[build.pk])))
    assert "Uploaded to" in page and "Front Porch Light" in page


# --- deleting -----------------------------------------------------------------------------


def test_delete_asks_first_then_deletes_with_one_row(as_maintainer, token_a):
    build = a_build(token_a, "b" * 32)
    url = reverse("fleet:library_delete", args=[build.pk])
    asked = text(as_maintainer.post(url))
    assert "Delete the build “Known build” 1.0 from the library?" in asked
    assert Build.objects.filter(pk=build.pk).exists() and not rows("library.delete").exists()
    response = as_maintainer.post(url, {"confirmed": "yes"}, HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == reverse("fleet:library")
    assert not Build.objects.exists() and not BuildFile.objects.exists()
    (row,) = rows("library.delete")
    assert row.outcome == "ok" and row.sent["md5"] == "b" * 32


def test_a_build_in_use_is_not_deleted(as_maintainer, token_a, monkeypatch):
    build = a_build(token_a, "c" * 32)
    monkeypatch.setattr(Build, "in_use", lambda self: True)
    page = text(as_maintainer.get(reverse("fleet:library_build", args=[build.pk])))
    assert "An active rollout uses this build" in page
    as_maintainer.post(reverse("fleet:library_delete", args=[build.pk]), {"confirmed": "yes"})
    assert Build.objects.filter(pk=build.pk).exists()
    assert rows("library.delete").get().outcome == "refused"


def test_nothing_uses_a_build_until_rollouts_exist(token_a):
    assert a_build(token_a, "d" * 32).in_use() is False


def test_the_same_form_sent_twice_adds_once(as_maintainer):
    from portal import form_keys

    key = form_keys.new()
    data = samples.esp8266_image(20_000, "double click")
    upload(as_maintainer, data, form_key=key)
    second = upload(as_maintainer, data, form_key=key)
    assert form_keys.ALREADY_SENT in text(second)
    assert Build.objects.count() == 1
    assert list(rows("library.upload").values_list("outcome", flat=True)) == ["refused", "ok"]


def test_a_build_deleted_during_a_look_sends_back_to_the_library(
    as_maintainer, token_a, monkeypatch
):
    from django.db import IntegrityError

    build = a_build(token_a, "7" * 32)

    def deleted_meanwhile(client, found, limit=10):
        raise IntegrityError("the build's row is gone")

    monkeypatch.setattr(library, "find", deleted_meanwhile)
    response = look(as_maintainer, build)
    assert response["HX-Redirect"] == reverse("fleet:library")
