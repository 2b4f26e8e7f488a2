"""The firmware panel speaks like the commands panel: the upstream's refusal (device offline,
not found, duplicate) is a warning, a failure is an error; a uid the token does not have is
"no such device", with nothing to act on."""

from __future__ import annotations

import pytest
from django.contrib.messages import WARNING, get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A, TOKEN_B
from tests import firmware_samples as samples

HTMX = {"HTTP_HX_REQUEST": "true"}
CONFIRMED = {"confirmed": "yes"}


@pytest.fixture
def pool_pump(emulator):
    """Offline, with a target firmware: the upstream refuses an OTA trigger."""
    return emulator.device_uid(TOKEN_A, "Pool Pump Timer")


def test_an_ota_to_an_offline_device_is_a_warning_in_the_panel(as_maintainer, emulator, pool_pump):
    body = as_maintainer.post(
        reverse("firmware:ota", args=[pool_pump]), CONFIRMED, **HTMX
    ).content.decode()
    # A refusal interrupts (role=alert) at the warning level, naming the action and the device.
    assert '<div class="alert alert-warning" role="alert"><p>Update not started on ' in body
    assert ": Device is offline.</p></div>" in body
    assert "alert-error" not in body


def test_the_commands_panel_shows_the_same_refusal_at_the_same_level(
    as_maintainer, emulator, pool_pump
):
    body = as_maintainer.post(
        reverse("devices:reboot", args=[pool_pump]), CONFIRMED, **HTMX
    ).content.decode()
    assert "alert-warning" in body and "Device is offline." in body


def test_without_javascript_the_refusal_is_a_warning_message(as_maintainer, emulator, pool_pump):
    response = as_maintainer.post(reverse("firmware:ota", args=[pool_pump]), CONFIRMED)
    assert response.status_code == 302
    (message,) = get_messages(response.wsgi_request)
    assert message.level == WARNING
    assert message.message == "Update not started on Pool Pump Timer: Device is offline."


def test_a_rollout_step_refused_is_a_warning_step(as_maintainer, emulator, pool_pump):
    body = as_maintainer.post(
        reverse("firmware:ota", args=[pool_pump]), {**CONFIRMED, "rollout": "1"}, **HTMX
    ).content.decode()
    assert 'class="step step-warning" data-step="ota"' in body


def test_a_target_the_device_does_not_have_is_a_warning(as_maintainer, emulator):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    body = as_maintainer.post(
        reverse("firmware:set_target", args=[uid]), {**CONFIRMED, "md5": "0" * 32}, **HTMX
    ).content.decode()
    assert "alert-warning" in body
    assert "Firmware with the provided md5 was not found for this device." in body


def test_a_duplicate_upload_is_a_warning(as_maintainer, emulator):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    data = samples.esp8266_image(salt="duplicate-level")

    def upload(name):
        payload = {"name": name, "version": "", "notes": ""}
        payload["file"] = SimpleUploadedFile("app.bin", data, "application/octet-stream")
        return as_maintainer.post(reverse("firmware:upload", args=[uid]), payload, **HTMX)

    upload("First")
    body = upload("Second").content.decode()
    assert "This firmware file is already uploaded." in body
    assert '<div class="alert alert-warning" role="alert">' in body


def test_a_failure_of_the_service_stays_an_error(as_maintainer, emulator, pool_pump):
    emulator.set_fault("500", path=r"/ota$")
    body = as_maintainer.post(
        reverse("firmware:ota", args=[pool_pump]), CONFIRMED, **HTMX
    ).content.decode()
    assert '<div class="alert alert-error" role="alert">' in body


@pytest.mark.parametrize("htmx", [False, True])
def test_a_device_the_token_does_not_have_shows_no_upload_form(as_maintainer, emulator, htmx):
    foreign = emulator.uids(TOKEN_B)[0]
    response = as_maintainer.get(
        reverse("firmware:panel", args=[foreign]), **(HTMX if htmx else {})
    )
    body = response.content.decode()
    assert response.status_code == 404
    assert "No such device." in body
    assert 'id="upload-form"' not in body and "Trigger OTA" not in body
    assert 'name="file"' not in body
