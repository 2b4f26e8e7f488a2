"""Migrations apply cleanly to an empty database, and leave nothing to migrate or make."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.multi import conftest
from tests.multi import deployment as dep

pytestmark = pytest.mark.multi


@pytest.mark.parametrize("backend", conftest.BACKENDS)
def test_migrations_apply_cleanly_to_an_empty_database(backend):
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        env = {
            **dep.base_env(Path(tmp), "http://127.0.0.1:9"),
            **conftest._database_and_cache(backend, Path(tmp), stack),
        }
        output = dep.manage(env, "migrate", "--noinput")
        assert "Applying portal.0001_initial... OK" in output
        assert "Error" not in output and "Warning" not in output
        dep.manage(env, "migrate", "--check")  # fails when anything is left unapplied
        dep.manage(env, "makemigrations", "--check", "--dry-run")
        tables = {
            name
            for (name,) in dep.query(
                env["DATABASE_URL"],
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                if backend == "sqlite-locmem"
                else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
            )
        }
        assert {"portal_auditevent", "portal_apitoken", "django_session"} <= tables
        assert "axes_accessattempt" in tables
        groups = dep.query(env["DATABASE_URL"], "SELECT name FROM auth_group ORDER BY name")
        assert [name for (name,) in groups] == ["admin", "maintainer", "operator", "viewer"]
