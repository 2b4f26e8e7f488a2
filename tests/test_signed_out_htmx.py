"""A signed-out htmx request sends the whole page to sign in, not the sign-in form into a panel."""

from __future__ import annotations

from django.urls import reverse


def test_an_expired_sessions_panel_request_redirects_the_whole_page(client, db, emulator):
    uid = emulator.device_uid("test-token-alpha-0001", "Kitchen Relay")
    page = reverse("devices:detail", args=[uid])
    response = client.get(
        reverse("devices:buttons", args=[uid]),
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}?tab=1"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{reverse('login')}?next={page}%3Ftab%3D1"
    assert b"Sign in" not in response.content
    assert emulator.request_log == []


def test_a_plain_request_still_gets_an_ordinary_redirect(client, db):
    response = client.get(reverse("devices:list"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={reverse('devices:list')}"
    assert "HX-Redirect" not in response
