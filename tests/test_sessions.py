"""The session store: Django's database sessions, read with a precompiled query."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.sessions import SessionStore


def test_the_portal_uses_this_store():
    assert settings.SESSION_ENGINE == "portal.sessions"


def test_a_saved_session_reads_back_in_one_query(db):
    store = SessionStore()
    store["colour"] = "green"
    store.save()
    with CaptureQueriesContext(connection) as queries:
        assert SessionStore(store.session_key)["colour"] == "green"
    assert len(queries) == 1


def test_an_expired_session_reads_as_empty_and_loses_its_key(db):
    store = SessionStore()
    store["colour"] = "green"
    store.save()
    Session.objects.filter(pk=store.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    stale = SessionStore(store.session_key)
    assert stale.load() == {} and stale.session_key is None


def test_an_unknown_key_reads_as_empty(db):
    assert SessionStore("x" * 32).load() == {}


def test_signing_out_ends_the_session_for_the_next_request(client, viewer):
    client.force_login(viewer)
    assert client.get(reverse("devices:list")).status_code == 200
    key = client.session.session_key
    client.post(reverse("logout"))
    assert not Session.objects.filter(pk=key).exists()
    response = client.get(reverse("devices:list"))
    assert response.status_code == 302 and reverse("login") in response["Location"]
