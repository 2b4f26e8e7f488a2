"""Shared fixtures: the emulator over HTTP, users per role, and the portal's settings for tests.

The upstream in every test is the emulator (emulator/), a real HTTP server on loopback.
"""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache
from django.test import Client
from django.test.client import MULTIPART_CONTENT

from emulator.pytest_plugin import TOKEN_A, TOKEN_B, emulator, emulator_server  # noqa: F401
from portal import services
from portal.iot import known
from portal.roles import Role
from tests.hostile.summary import pytest_terminal_summary  # noqa: F401 (the hostile suite's line)

pytest_plugins = ["tests.fleet_worker"]  # the real worker process (`fleet_worker`)

# Tests that run only inside a PostgreSQL re-run of their module (tests/test_fleet_rollouts.py
# starts it): deselected, not skipped, elsewhere, so a CI run skips nothing.
POSTGRES_SUBRUN = "PORTAL_TEST_ROLLOUTS_ON_POSTGRES"


def pytest_collection_modifyitems(config, items) -> None:
    import os

    subrun = bool(os.environ.get(POSTGRES_SUBRUN))
    keep, drop = [], []
    for item in items:
        only_there = item.get_closest_marker("postgres_subrun") is not None
        starts_it = item.get_closest_marker("starts_postgres_subrun") is not None
        (drop if (only_there and not subrun) or (starts_it and subrun) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


PASSWORD = "correct-horse-battery-staple"


class KeyedClient(Client):
    """Django's test client, posting every form with a fresh one-time form key, as a form the
    portal drew carries one (portal.form_keys). Like the client's CSRF exemption, this lets
    a test post without drawing the form first; the form key's own tests post their own
    key (`form_key` in `data`, "" for none)."""

    def post(self, path, data=None, content_type=MULTIPART_CONTENT, **extra):
        if content_type == MULTIPART_CONTENT and (data is None or isinstance(data, dict)):
            from portal import form_keys

            data = {form_keys.FIELD: form_keys.new(), **(data or {})}
        return super().post(path, data, content_type, **extra)


@pytest.fixture
def client():
    """pytest-django's `client`, sending form keys (KeyedClient)."""
    return KeyedClient()


@pytest.fixture(autouse=True)
def _portal_settings(settings, emulator_server):  # noqa: F811
    """Point the portal at the emulator, fail fast, and start every test with a cold cache."""
    settings.IOT_API_BASE_URL = emulator_server.url
    settings.IOT_API_TIMEOUT = 1.0
    settings.IOT_API_CONNECT_TIMEOUT = 1.0
    settings.IOT_API_READ_RETRIES = 1
    settings.PORTAL_READ_CACHE_SECONDS = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    cache.clear()
    known.clear()
    yield
    cache.clear()
    known.clear()


@pytest.fixture
def token_a(db):
    """The team token: TOKEN_A, stored in the vault as "Team A"."""
    return services.save_token("Team A", TOKEN_A)


@pytest.fixture
def token_b(db):
    return services.save_token("Team B", TOKEN_B)


def make_user(username: str, role: Role | None, token=None):
    from django.contrib.auth.models import User

    user = User.objects.create_user(username, password=PASSWORD)
    services.set_role(user, role)
    if token is not None:
        services.assign_token(user, token)
    return user


@pytest.fixture
def users(db, token_a):
    """One user per role, named after it, all on the team token; plus `nobody` (no role)."""
    made = {role.value: make_user(role.value, role, token_a) for role in Role}
    made["nobody"] = make_user("nobody", None, token_a)
    return made


@pytest.fixture
def viewer(users):
    return users["viewer"]


@pytest.fixture
def operator(users):
    return users["operator"]


@pytest.fixture
def maintainer(users):
    return users["maintainer"]


@pytest.fixture
def admin_user(users):
    return users["admin"]


def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def as_viewer(client, viewer):
    return signed_in(client, viewer)


@pytest.fixture
def as_operator(client, operator):
    return signed_in(client, operator)


@pytest.fixture
def as_maintainer(client, maintainer):
    return signed_in(client, maintainer)


@pytest.fixture
def as_admin(client, admin_user):
    return signed_in(client, admin_user)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        from portal.logs import JsonFormatter

        self.lines.append(JsonFormatter().format(record))


@pytest.fixture
def log_lines():
    """Every log line written while the test runs, formatted as production formats them."""
    handler = _Capture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(previous)


@pytest.fixture
def unused_port_url():
    """The address of a loopback port nothing listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
