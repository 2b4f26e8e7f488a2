"""Migrations apply cleanly to an empty database and leave nothing unapplied.

The `deployment` fixture starts from a database created empty for it (PostgreSQL) or a new
SQLite file, and migrates it with `manage.py migrate`, the documented upgrade step.
"""

from __future__ import annotations

import pytest

from tests.multi import deployment as dep

pytestmark = pytest.mark.multi


def test_migrations_apply_cleanly_to_an_empty_database(deployment):
    output = deployment.migrate_output
    assert "Applying contenttypes.0001_initial... OK" in output
    assert "Applying portal.0001_initial... OK" in output
    assert "Error" not in output and "Warning" not in output
    dep.manage(deployment.env, "migrate", "--check")  # non-zero if anything is unapplied


def test_the_migrated_database_has_the_tables_and_the_role_groups(deployment):
    postgres = deployment.name == "postgres-redis"
    tables = {
        name
        for (name,) in deployment.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            if postgres
            else "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    assert {
        "portal_auditevent",
        "portal_apitoken",
        "django_session",
        "axes_accessattempt",
    } <= tables
    groups = deployment.query("SELECT name FROM auth_group ORDER BY name")
    assert [name for (name,) in groups] == ["admin", "maintainer", "operator", "viewer"]
