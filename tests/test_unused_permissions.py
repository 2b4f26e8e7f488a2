"""No role holds a permission that nothing checks: `fleet_work` goes until fleet work exists."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from portal.roles import PERMISSIONS, ROLE_ORDER
from tests.test_role_matrix import ROUTES

BEFORE = [("portal", "0004_audit_outcome_unknown")]


def latest() -> list[tuple[str, str]]:
    # Forward to every app's newest migration (0005 removes it), so later tests find the
    # whole schema again.
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def test_no_role_and_no_permission_row_holds_fleet_work(db):
    assert "fleet_work" not in PERMISSIONS
    assert not Permission.objects.filter(codename="fleet_work").exists()
    for role in ROLE_ORDER:
        held = set(
            Group.objects.get(name=role.value).permissions.values_list("codename", flat=True)
        )
        assert "fleet_work" not in held


def test_every_permission_guards_some_url_of_the_role_matrix():
    # A permission added before anything checks it (as fleet_work was) turns this red.
    assert set(PERMISSIONS) <= {route.permission for route in ROUTES}


@pytest.mark.django_db(transaction=True)
def test_the_migration_takes_it_from_a_database_that_had_it_and_gives_it_back_reversed():
    migrate(BEFORE)  # back to where 0002 had given it to the maintainers and admins
    fleet_work = Permission.objects.get(codename="fleet_work")
    assert set(fleet_work.group_set.values_list("name", flat=True)) == {"maintainer", "admin"}
    someone = User.objects.create_user("granted-directly")
    someone.user_permissions.add(fleet_work)

    migrate(latest())
    assert not Permission.objects.filter(codename="fleet_work").exists()
    assert not someone.user_permissions.exists()
    content_type = ContentType.objects.get(app_label="portal", model="access")
    assert Permission.objects.filter(content_type=content_type).count() == len(PERMISSIONS)
