"""The portal's own error pages: no such page or device (in debug mode too), a form sent
without its CSRF token, and the favicon."""

from __future__ import annotations

from django.conf import settings
from django.test import Client
from django.urls import reverse

from portal.models import AuditEvent


def test_an_unknown_address_gets_the_portals_page_even_in_debug_mode(as_viewer, settings):
    settings.DEBUG = True
    response = as_viewer.get("/no/such/page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "No such page" in body and 'aria-label="Main"' in body
    assert "URLconf" not in body and "Using the URLconf" not in body  # not Django's debug page


def test_an_unknown_device_gets_the_no_such_device_page_even_in_debug_mode(
    as_viewer, emulator, settings
):
    settings.DEBUG = True
    response = as_viewer.get(reverse("devices:detail", args=["no-such-device-1"]))
    body = response.content.decode()
    assert response.status_code == 404
    assert "No such device" in body and "no-such-device-1" in body
    assert "technical_404" not in body and "Django tried these URL patterns" not in body


def test_the_same_pages_show_with_debug_off(as_viewer, emulator, settings):
    settings.DEBUG = False
    assert "No such page" in as_viewer.get("/nowhere/").content.decode()
    device = as_viewer.get(reverse("devices:detail", args=["no-such-device-1"]))
    assert device.status_code == 404 and "No such device" in device.content.decode()


def test_an_address_missing_its_slash_is_still_redirected(as_viewer, settings):
    settings.DEBUG = True
    response = as_viewer.get("/devices")
    assert response.status_code == 301 and response["Location"] == "/devices/"


def test_a_form_sent_without_its_csrf_token_gets_the_portals_page_with_a_way_back(users, emulator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["admin"])
    before = AuditEvent.objects.count()
    page = "http://testserver" + reverse("team:users")
    response = client.post(
        reverse("team:user_access", args=[users["viewer"].pk]),
        {"role": "admin"},
        HTTP_REFERER=page,
    )
    body = response.content.decode()
    assert response.status_code == 403
    assert "The form could not be sent: your session or this page expired." in body
    assert "Nothing was done." in body
    assert f'<a href="{page}">Reload the page</a>' in body
    assert "CSRF verification failed" not in body
    assert AuditEvent.objects.count() == before


def test_the_way_back_never_leads_to_another_site(client, db):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {}, HTTP_REFERER="https://evil.example/")
    assert response.status_code == 403
    assert "evil.example" not in response.content.decode()
    assert f'<a href="{reverse("home")}">Reload the page</a>' in response.content.decode()


def test_every_page_links_the_favicon_and_it_is_served(client, db):
    page = client.get(reverse("login")).content.decode()
    assert '<link rel="icon" href="/static/portal/favicon.svg" type="image/svg+xml">' in page
    icon = settings.BASE_DIR / "static" / "portal" / "favicon.svg"
    assert icon.read_text().startswith("<svg")
