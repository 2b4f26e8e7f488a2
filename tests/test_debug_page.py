"""Debug mode (DJANGO_DEBUG=true, the default with nothing set) never shows a token.

Django's technical 500 page lists the local variables of every frame; below the transport,
requests and urllib3 hold the Authorization header in variables of their own.
"""

from __future__ import annotations

import http.client

import pytest
from django.test import Client
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A

UNREADABLE = "The device service sent an answer the portal could not read."


@pytest.fixture
def debug_client(settings, viewer):
    settings.DEBUG = True
    client = Client(raise_request_exception=False)
    client.force_login(viewer)
    return client


def test_an_unexpected_error_inside_the_transport_shows_no_token(debug_client, monkeypatch):
    def explode(self, header, *values):
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(http.client.HTTPConnection, "putheader", explode)
    response = debug_client.get(reverse("devices:list"))
    page = response.content.decode()
    assert response.status_code == 500
    assert "something nobody expected" in page and "Local vars" in page  # the technical page
    assert TOKEN_A not in page
    assert "Bearer test" not in page


def test_an_exception_text_carrying_a_token_is_hidden(debug_client, monkeypatch):
    def explode(self, header, *values):
        raise RuntimeError(f"bad header {values!r}")

    monkeypatch.setattr(http.client.HTTPConnection, "putheader", explode)
    page = debug_client.get(reverse("devices:list")).content.decode()
    assert "bad header" in page and TOKEN_A not in page


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("deep", {"size": 100_000}),
        ("raw", {"body": b'{"data": [{"uid": "u1", "name": "\\ud800 \xff"}]}'}),
        ("raw", {"body": b"\xff\xfe\x00garbage"}),
    ],
    ids=["deep json", "lone surrogate and invalid utf-8", "garbage"],
)
def test_an_answer_the_client_cannot_decode_is_a_message_not_a_500(
    debug_client, emulator, kind, options
):
    emulator.set_fault(kind, path="^/v1/user/devices$", **options)
    response = debug_client.get(reverse("devices:list"))
    page = response.content.decode()
    assert response.status_code == 200
    assert TOKEN_A not in page
    assert UNREADABLE in page or "u1" in page
