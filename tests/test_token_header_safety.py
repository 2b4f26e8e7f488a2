"""A token an HTTP header cannot carry is refused at entry on every token form, and a stored
one that somehow is (from before the check) is a clear message on every page, not a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal import crypto
from portal.iot import NoToken, client_for
from portal.models import ApiToken, AuditEvent

BAD = [
    ("tok en-1234", "a space"),
    ("token\n1234", "a control character"),
    ("token\x071234", "a control character"),
    ("tökén-1234", "a non-ASCII character"),
]
HEADER = "which an HTTP header cannot carry"


def _refused_with(response, action: str, words: str) -> None:
    body = response.content.decode()
    assert response.status_code == 400
    assert HEADER in body and words in body
    assert AuditEvent.objects.filter(action=action, outcome="refused").count() == 1


@pytest.mark.parametrize(("value", "words"), BAD)
def test_the_vault_refuses_it_when_a_token_is_added(as_admin, users, value, words):
    response = as_admin.post(reverse("team:token_add"), {"label": "Bravo", "value": value})
    _refused_with(response, "token.add", words)
    assert not ApiToken.objects.filter(label="Bravo").exists()


@pytest.mark.parametrize(("value", "words"), BAD)
def test_the_vault_refuses_it_when_a_value_is_replaced(as_admin, token_a, value, words):
    before = ApiToken.objects.get(pk=token_a.pk).ciphertext
    response = as_admin.post(reverse("team:token_replace", args=[token_a.pk]), {"value": value})
    _refused_with(response, "token.replace", words)
    assert ApiToken.objects.get(pk=token_a.pk).ciphertext == before


@pytest.mark.parametrize(("value", "words"), BAD)
def test_my_api_token_refuses_it(as_viewer, settings, value, words):
    settings.PORTAL_ALLOW_SELF_TOKEN = True
    response = as_viewer.post(reverse("team:my_token"), {"value": value})
    _refused_with(response, "token.self", words)
    assert not ApiToken.objects.filter(personal_for__isnull=False).exists()


def test_a_stored_token_a_header_cannot_carry_is_a_clear_message_not_a_500(as_viewer, token_a):
    # Stored before entry was checked: written straight to the table, as an old row would be.
    ApiToken.objects.filter(pk=token_a.pk).update(ciphertext=crypto.encrypt("old token\nvalue"))
    with pytest.raises(NoToken, match="cannot carry"):
        client_for(ApiToken.objects.get(pk=token_a.pk).profiles.first().user)
    response = as_viewer.get(reverse("devices:list"))
    assert response.status_code != 500
    assert "holds characters an HTTP header cannot carry" in response.content.decode()
