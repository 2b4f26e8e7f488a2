"""Every answer to a signed-in user is `Cache-Control: no-store`; static files stay cacheable."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.devices_helpers import HTMX, uid_of


def no_store(response) -> bool:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return "no-store" in directives and "private" in directives


@pytest.mark.parametrize(
    "name", ["devices:list", "team:tokens", "team:users", "team:audit", "team:my_activity"]
)
def test_a_signed_in_page_is_not_stored(as_admin, emulator, name):
    response = as_admin.get(reverse(name))
    assert response.status_code == 200
    assert no_store(response), response.get("Cache-Control")


def test_a_device_page_and_its_partials_are_not_stored(as_admin, emulator):
    uid = uid_of(emulator, "Greenhouse Sensor")
    for url in (
        reverse("devices:detail", args=[uid]),
        reverse("devices:commands", args=[uid]),
        reverse("devices:buttons", args=[uid]),
        reverse("firmware:panel", args=[uid]),
    ):
        response = as_admin.get(url, headers=HTMX)
        assert response.status_code == 200, url
        assert no_store(response), url
    table = as_admin.get(reverse("devices:list"), headers={**HTMX, "HX-Target": "device-table"})
    assert no_store(table)


def test_a_write_an_error_and_the_csv_export_are_not_stored(as_admin, emulator):
    uid = uid_of(emulator, "Greenhouse Sensor")
    write = as_admin.post(reverse("devices:reboot", args=[uid]), headers=HTMX)
    assert write.status_code == 200 and no_store(write)
    missing = as_admin.get(reverse("devices:detail", args=["no-such-device"]))
    assert missing.status_code == 404 and no_store(missing)
    refused = as_admin.get(reverse("team:my_token"))  # PORTAL_ALLOW_SELF_TOKEN is off
    assert refused.status_code == 403 and no_store(refused)
    export = as_admin.get(reverse("team:audit_export"))
    assert export.status_code == 200 and no_store(export)


def test_signing_in_and_out_answers_are_not_stored(client, users):
    signed_in = client.post(reverse("login"), {"username": "viewer", "password": PASSWORD})
    assert signed_in.status_code == 302 and no_store(signed_in)
    signed_out = client.post(reverse("logout"))
    assert signed_out.status_code == 302 and no_store(signed_out)


def test_the_sign_in_page_is_not_stored_either(client, db):
    # Django's own sign-in view says so (it carries a CSRF token), signed in or not.
    assert "no-store" in client.get(reverse("login"))["Cache-Control"]


def test_a_static_file_stays_cacheable_for_a_signed_in_user(as_viewer, settings):
    # whitenoise answers static files before the session is read, as in production; here it
    # finds them in the source tree (the client builds its middleware on its first request).
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    response = as_viewer.get("/static/portal/portal.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
