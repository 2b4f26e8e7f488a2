"""Every firmware action is refused for viewers and operators, before any upstream call."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from portal.models import AuditEvent
from tests import firmware_samples as samples

MD5 = "0123456789abcdef0123456789abcdef"


def actions(uid: str) -> list[tuple[str, str, dict]]:
    """(method, url, data) for every firmware write, all of them confirmed."""
    upload = {"name": "x", "file": SimpleUploadedFile("a.bin", samples.esp8266_image(1000))}
    head = {"head": SimpleUploadedFile("h.bin", b"\xe9"), "size": "1000"}
    return [
        ("post", reverse("firmware:upload", args=[uid]), upload),
        ("post", reverse("firmware:check", args=[uid]), head),
        ("get", reverse("firmware:edit", args=[uid, 1]), {}),
        ("post", reverse("firmware:update", args=[uid, 1]), {"name": "x"}),
        ("post", reverse("firmware:delete", args=[uid, 1]), {"confirmed": "yes"}),
        ("post", reverse("firmware:set_target", args=[uid]), {"md5": MD5, "confirmed": "yes"}),
        ("post", reverse("firmware:ota", args=[uid]), {"confirmed": "yes"}),
    ]


@pytest.mark.parametrize("role", ["viewer", "operator", "nobody"])
@pytest.mark.parametrize("index", range(7))
def test_it_refuses_every_firmware_action_without_calling_the_upstream(
    client, users, emulator, role, index
):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    client.force_login(users[role])
    method, url, data = actions(uid)[index]
    emulator.clear_log()
    response = getattr(client, method)(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    assert "needs the maintainer role." in response.content.decode()
    assert emulator.request_log == []


def test_a_refused_write_is_audited(client, users, emulator):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    client.force_login(users["operator"])
    client.post(reverse("firmware:ota", args=[uid]), {"confirmed": "yes"})
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.device_uid) == ("firmware.ota", "refused", uid)


@pytest.mark.parametrize("role", ["maintainer", "admin"])
def test_maintainers_and_admins_may_act(client, users, emulator, role):
    uid = emulator.device_uid(TOKEN_A, "Basement Water Leak")
    client.force_login(users[role])
    response = client.post(
        reverse("firmware:ota", args=[uid]), {"confirmed": "yes"}, HTTP_HX_REQUEST="true"
    )
    assert "Assign firmware first to trigger OTA." in response.content.decode()
