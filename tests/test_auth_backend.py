"""The sign-in backend: Django's permission answers, with fewer queries per signed-in page."""

from __future__ import annotations

from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.backends import PortalBackend
from portal.models import Profile
from portal.roles import Role, role_of
from tests.conftest import make_user


def test_it_grants_the_roles_permissions_and_the_users_own(db):
    user = make_user("ops", Role.OPERATOR)
    user.user_permissions.add(Permission.objects.get(codename="view_audit"))
    fresh = PortalBackend().get_user(user.pk)
    assert fresh.has_perm("portal.reboot_device") and fresh.has_perm("portal.view_audit")
    assert not fresh.has_perm("portal.manage_users")
    assert fresh.get_all_permissions() == User.objects.get(pk=user.pk).get_all_permissions()


def test_it_knows_the_role_from_the_permission_check_without_another_query(db):
    user = make_user("maint", Role.MAINTAINER)
    fresh = PortalBackend().get_user(user.pk)
    with CaptureQueriesContext(connection) as queries:
        fresh.has_perm("portal.view_devices")
        assert role_of(fresh) == Role.MAINTAINER
    assert len(queries) == 1


def test_a_user_without_a_role_holds_nothing(db):
    fresh = PortalBackend().get_user(make_user("nobody", None).pk)
    assert fresh.get_all_permissions() == set() and role_of(fresh) is None


def test_the_device_list_costs_five_queries(as_viewer, emulator):
    with CaptureQueriesContext(connection) as queries:
        response = as_viewer.get(reverse("devices:list"))
    assert response.status_code == 200
    # The session, the user with profile and token, the permissions with the role; then the
    # page's tags (one query for its devices) and the fleet's tag names for the Tag filter.
    sql = [q["sql"] for q in queries]
    assert len(sql) == 5, [q[:80] for q in sql]
    assert sum('FROM "fleet_devicetag"' in q for q in sql) == 1
    assert sum('FROM "fleet_tag"' in q and "fleet_devicetag" not in q for q in sql) == 1


def test_the_user_comes_with_profile_and_token_and_dates_as_datetimes(db, token_a):
    user = make_user("ops2", Role.OPERATOR, token_a)
    with CaptureQueriesContext(connection) as queries:
        fresh = PortalBackend().get_user(str(user.pk))  # the session holds the id as text
        assert fresh.portal_profile.token.label == token_a.label
        assert fresh.portal_profile.user is fresh
    assert len(queries) == 1
    assert fresh.date_joined == user.date_joined and fresh.date_joined.tzinfo is not None
    assert fresh.username == "ops2" and fresh.is_active and not fresh.is_superuser


def test_a_user_without_a_profile_or_token_needs_no_further_query(db, token_a):
    no_profile = User.objects.create_user("bare", password="x" * 12)
    no_token = make_user("tokenless", Role.VIEWER)
    Profile.objects.create(user=no_token, token=None)
    backend = PortalBackend()
    with CaptureQueriesContext(connection) as queries:
        assert not hasattr(backend.get_user(no_profile.pk), "portal_profile")
        assert backend.get_user(no_token.pk).portal_profile.token is None
    assert len(queries) == 2


def test_an_unknown_inactive_or_malformed_id_gives_no_user(db):
    inactive = make_user("gone", Role.VIEWER)
    inactive.is_active = False
    inactive.save()
    backend = PortalBackend()
    assert backend.get_user(987_654) is None
    assert backend.get_user(inactive.pk) is None
    assert backend.get_user("not-a-number") is None
