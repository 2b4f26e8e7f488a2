"""A signed-out request: htmx gets 401 and an event (the page stays, typed text and all), a
plain request an ordinary redirect to a sign-in page that says why."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.test import Client
from django.urls import reverse

from emulator.pytest_plugin import TOKEN_A
from portal.models import AuditEvent


def test_an_expired_sessions_panel_request_is_told_to_sign_in_without_leaving_the_page(
    client, db, emulator
):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    page = reverse("devices:detail", args=[uid])
    response = client.get(
        reverse("devices:buttons", args=[uid]),
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}?tab=1"},
    )
    assert response.status_code == 401
    assert "HX-Redirect" not in response
    assert response["HX-Reswap"] == "none"
    event = json.loads(response["HX-Trigger"])["portal:signed-out"]
    wanted = urlencode({"next": f"{page}?tab=1", "reason": "ended"})
    assert event["login"] == f"{reverse('login')}?{wanted}"
    assert event["method"] == "GET"
    assert b"Sign in" not in response.content
    assert emulator.request_log == []


def test_a_reboot_after_the_session_ended_is_not_sent_and_the_page_is_told(client, db, emulator):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    page = reverse("devices:detail", args=[uid])
    response = client.post(
        reverse("devices:reboot", args=[uid]),
        {"confirmed": "yes"},
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}"},
    )
    assert response.status_code == 401
    assert json.loads(response["HX-Trigger"])["portal:signed-out"]["method"] == "POST"
    assert emulator.request_log == []


def test_a_plain_request_still_gets_an_ordinary_redirect(client, db):
    response = client.get(reverse("devices:list"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={reverse('devices:list')}"
    assert "HX-Redirect" not in response


def test_an_ended_session_is_sent_to_a_sign_in_page_that_says_so(client, db):
    client.cookies["sessionid"] = "gone"
    response = client.get(reverse("devices:list"), follow=True)
    assert response.redirect_chain[0][0] == f"{reverse('login')}?next=%2Fdevices%2F&reason=ended"
    assert "Your session ended; sign in again." in response.content.decode()


def test_a_plain_form_sent_after_the_session_ended_is_not_done_and_the_sign_in_page_says_so(
    client, db, emulator
):
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    page = reverse("devices:commands", args=[uid])
    client.cookies["sessionid"] = "gone"
    response = client.post(
        reverse("devices:reboot", args=[uid]),
        {"confirmed": "yes"},
        HTTP_REFERER=f"http://testserver{page}",
    )
    assert response.status_code == 302
    # Back to the page the form was on: the reboot's own address takes only a post.
    assert response["Location"] == (
        f"{reverse('login')}?next={page.replace('/', '%2F')}&reason=ended&unsent=1"
    )
    body = client.get(response["Location"]).content.decode()
    assert "Your session ended; sign in again." in body
    assert "What you sent last was not sent: nothing was done." in body
    assert emulator.request_log == []


def test_a_first_visit_is_asked_to_sign_in_without_talk_of_an_ended_session(client, db):
    body = client.get(f"{reverse('login')}?next=/devices/").content.decode()
    assert "Sign in to continue to that page." in body
    assert "session ended" not in body


def test_an_htmx_form_without_cookies_is_told_its_session_ended_and_gets_a_new_csrf_cookie(
    db, emulator
):
    client = Client(enforce_csrf_checks=True)
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    response = client.post(
        reverse("devices:reboot", args=[uid]),
        {"confirmed": "yes", "csrfmiddlewaretoken": "x" * 64},
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/devices/"},
    )
    assert response.status_code == 401
    assert "portal:signed-out" in json.loads(response["HX-Trigger"])
    assert response["HX-Reswap"] == "none"
    assert "csrftoken" in response.cookies
    assert emulator.request_log == []
    assert AuditEvent.objects.count() == 0


def test_a_signed_in_htmx_form_with_a_stale_csrf_token_keeps_its_page(users, emulator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["operator"])
    uid = emulator.device_uid(TOKEN_A, "Kitchen Relay")
    client.get(reverse("devices:commands", args=[uid]))  # a CSRF cookie
    response = client.post(
        reverse("devices:reboot", args=[uid]),
        {"confirmed": "yes", "csrfmiddlewaretoken": "x" * 64},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 403
    assert json.loads(response["HX-Trigger"])["portal:signed-out"]["reason"] == "csrf"
    assert response["HX-Reswap"] == "none"
    assert not [e for e in emulator.request_log if e["method"] == "POST"]
