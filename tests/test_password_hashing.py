"""Passwords are hashed with Argon2; a password stored with PBKDF2 still works and is upgraded
to Argon2 at its owner's next sign-in."""

from __future__ import annotations

from django.conf import global_settings, settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User
from django.urls import reverse

from portal import settings as portal_settings
from tests.conftest import PASSWORD

CONFIGURED = getattr(portal_settings, "PASSWORD_HASHERS", global_settings.PASSWORD_HASHERS)


def test_the_portal_hashes_with_argon2_first_and_still_reads_pbkdf2():
    assert CONFIGURED[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert "django.contrib.auth.hashers.PBKDF2PasswordHasher" in CONFIGURED


def test_a_user_with_a_pbkdf2_hash_signs_in_and_their_hash_becomes_argon2(client, db, settings):
    settings.PASSWORD_HASHERS = CONFIGURED
    # Few iterations to keep the test fast: PBKDF2 reads the count from the hash itself.
    old = PBKDF2PasswordHasher().encode(PASSWORD, "pbkdf2saltvalue1", iterations=1000)
    user = User.objects.create(username="legacy", password=old)
    response = client.post(reverse("login"), {"username": "legacy", "password": PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password(PASSWORD)


def test_the_suite_keeps_its_fast_hasher():
    # tests/conftest.py sets MD5 for speed; the test above sets the real list itself.
    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]
