"""A form body in another encoding than UTF-8 gets a clear 400, not the 500 Django's own
400 handler gave (it ran the CSRF check again, which read the refused body again)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from portal.models import AuditEvent
from tests.devices_helpers import uid_of


@pytest.mark.parametrize("charset", ["utf-16", "latin-1", "ascii"])
def test_a_form_in_another_encoding_is_refused_with_a_page_that_says_so(
    operator, emulator, charset
):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(operator)
    client.get(reverse("devices:list"))
    token = client.cookies["csrftoken"].value
    uid = uid_of(emulator, "Kitchen Relay")
    emulator.clear_log()
    response = client.post(
        reverse("devices:reboot", args=[uid]),
        b"confirmed=yes",
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 400
    assert "sent in an encoding other than UTF-8" in response.content.decode()
    assert emulator.request_log == [] and not AuditEvent.objects.filter(action="device.reboot")


def test_a_utf8_form_still_goes_through(as_operator, emulator):
    uid = uid_of(emulator, "Kitchen Relay")
    response = as_operator.post(
        reverse("devices:reboot", args=[uid]),
        b"confirmed=yes",
        content_type="application/x-www-form-urlencoded; charset=UTF-8",
    )
    assert response.status_code == 302
