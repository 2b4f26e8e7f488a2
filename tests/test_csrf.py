"""Every POST of the portal refuses a request that does not carry the CSRF token."""

from __future__ import annotations

import html

import pytest
from django.test import Client
from django.urls import reverse

from portal.models import ApiToken, AuditEvent
from tests.test_role_matrix import POSTS, Route, call, fill_fixture  # noqa: F401


@pytest.mark.parametrize("route", POSTS, ids=str)
def test_each_post_is_refused_without_a_csrf_token(users, emulator, fill, route: Route):
    client = Client(enforce_csrf_checks=True)
    if route.name != "login":
        client.force_login(users["admin"])
    emulator.clear_log()
    entries, tokens = AuditEvent.objects.count(), list(ApiToken.objects.values())
    response = call(client, route, fill)
    assert response.status_code == 403
    assert "The form could not be sent: your session or this page expired." in html.unescape(
        response.content.decode()
    )
    assert emulator.request_log == []
    assert AuditEvent.objects.count() == entries  # nothing was done, so nothing was recorded
    assert list(ApiToken.objects.values()) == tokens


def test_a_post_with_the_csrf_token_goes_through(users, emulator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["admin"])
    page = client.get(reverse("team:token_add"))
    csrf = page.cookies["csrftoken"].value
    response = client.post(
        reverse("team:token_verify", args=[users["admin"].portal_profile.token.pk]),
        {"csrfmiddlewaretoken": csrf},
    )
    assert response.status_code == 302
