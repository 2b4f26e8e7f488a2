"""The token pages speak to the admin reading them: a rejected token says what to do, a token
that works says when it was checked; the device list's error for a rejected token links an
admin to the token page and still tells anyone else to ask an admin."""

from __future__ import annotations

import html
import re

from django.urls import reverse
from django.utils import timezone

from portal import services
from portal.models import ApiToken

ADVICE = "Rejected by the device service: replace the value, or check it with the vendor."
REVOKED = "revoked-value-9z9z"


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_a_rejected_token_says_to_replace_it_or_check_with_the_vendor(as_admin, users, emulator):
    added = as_admin.post(
        reverse("team:token_add"), {"label": "Old", "value": REVOKED}, follow=True
    )
    body = text(added)
    assert "the device service rejected it: replace the value, or check it with the vendor." in body
    assert ADVICE in body and "Ask an admin" not in body and "ask an admin" not in body
    listing = text(as_admin.get(reverse("team:tokens")))
    assert ADVICE in listing and "Ask an admin" not in listing
    token = ApiToken.objects.get(label="Old")
    checked = text(as_admin.post(reverse("team:token_verify", args=[token.pk]), follow=True))
    assert "“Old” was rejected by the device service: replace the value, or check it" in checked


def test_an_old_rejected_row_that_says_ask_an_admin_reads_the_new_way(as_admin, token_a):
    ApiToken.objects.filter(pk=token_a.pk).update(
        verified_ok=False,
        last_verified_at=timezone.now(),
        last_error="Your API token was rejected by the device service. Ask an admin to check it.",
    )
    body = text(as_admin.get(reverse("team:token_detail", args=[token_a.pk])))
    assert ADVICE in body and "Ask an admin" not in body


def test_a_token_that_works_is_shown_as_checked_with_when(as_admin, token_a, emulator):
    services.verify_token(token_a)
    token_a.refresh_from_db()
    exact = timezone.localtime(token_a.last_verified_at).strftime("%Y-%m-%d %H:%M:%S")
    for url in (reverse("team:tokens"), reverse("team:token_detail", args=[token_a.pk])):
        body = text(as_admin.get(url))
        assert ">Checked</span>" in body
        stamp = re.search(
            r'works, checked <time datetime="[^"]+" title="([^"]+)">([^<]+)</time>', body
        )
        assert stamp and stamp.group(1).startswith(exact)
        assert stamp.group(2) == "now" or "ago" in stamp.group(2)


def test_the_device_list_error_links_an_admin_to_the_token_page(client, users, token_a):
    ApiToken.objects.filter(pk=token_a.pk).update(ciphertext=_encrypted(REVOKED))
    client.force_login(users["admin"])
    body = text(client.get(reverse("devices:list")))
    link = reverse("team:token_detail", args=[token_a.pk])
    assert "The device service rejected the API token “Team A”:" in body
    assert f'<a href="{link}">replace its value, or check it with the vendor</a>' in body
    client.force_login(users["operator"])
    body = text(client.get(reverse("devices:list")))
    assert "Ask an admin to check it." in body and link not in body


def _encrypted(value: str) -> str:
    from portal import crypto

    return crypto.encrypt(value)
