"""Static files in production: hashed, compressed names, each URL worked out once."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from django.core.management import call_command
from django.test import override_settings

from portal.storage import StaticStorage


@pytest.fixture
def collected(tmp_path, settings):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "portal.storage.StaticStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    return StaticStorage(location=tmp_path)


def test_a_static_url_names_the_hashed_file(collected):
    url = collected.url("portal/portal.css")
    assert url.startswith("/static/portal/portal.") and url.endswith(".css")
    assert url != "/static/portal/portal.css"  # the content hash is in the name
    assert (Path(collected.location) / url.removeprefix("/static/")).exists()


def test_each_url_is_worked_out_from_the_manifest_once(collected):
    first = collected.url("portal/portal.js")
    with mock.patch.object(StaticStorage, "stored_name", side_effect=AssertionError) as looked:
        assert collected.url("portal/portal.js") == first
    assert not looked.called


def test_a_missing_file_still_fails_loudly(collected):
    with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
        collected.url("portal/no-such-file.css")


@override_settings(DEBUG=True)
def test_nothing_is_remembered_while_debugging(collected):
    collected.url("portal/portal.css")
    assert collected._urls == {}
