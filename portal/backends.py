"""The portal's sign-in backend: Django's ModelBackend with fewer queries per page.

Every signed-in page loads the user, checks a permission, shows the role and (for device
pages) reads the user's token. Django's backend makes four queries for that (user, user
permissions, group permissions, and the role's groups) plus one for the profile; this one
makes two, with the same answers:

- the user comes with their profile and token (one join), so `client_for` needs no query;
- the user's groups with their permissions, and the user's own permissions, come in one
  query, which also gives the role.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db.models import CharField, QuerySet, Value

from portal.roles import highest_role

UserModel = get_user_model()


class PortalBackend(ModelBackend):
    def get_user(self, user_id):
        try:
            user = UserModel._default_manager.select_related("portal_profile__token").get(
                pk=user_id
            )
        except UserModel.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        if (
            not user_obj.is_active
            or user_obj.is_anonymous
            or obj is not None
            or user_obj.is_superuser
        ):
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            names, via_groups, own = set(), set(), set()
            for group, app_label, codename in _grants(user_obj):
                if group is None:
                    own.add(f"{app_label}.{codename}")
                    continue
                names.add(group)
                if codename:  # a group without permissions still names a role
                    via_groups.add(f"{app_label}.{codename}")
            user_obj._user_perm_cache, user_obj._group_perm_cache = own, via_groups
            user_obj._portal_role = highest_role(names)  # what roles.role_of would query
            user_obj._perm_cache = own | via_groups
        return user_obj._perm_cache


def _grants(user) -> QuerySet:
    """(group name, app label, codename) for each of the user's groups and its permissions,
    then (None, app label, codename) for each permission the user holds directly: one query.
    """
    via_groups = Group.objects.filter(user=user).values_list(
        "name", "permissions__content_type__app_label", "permissions__codename"
    )
    own = Permission.objects.filter(user=user).values_list(
        Value(None, output_field=CharField()), "content_type__app_label", "codename"
    )
    return via_groups.order_by().union(own.order_by(), all=True)
