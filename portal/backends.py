"""The portal's sign-in backend: Django's ModelBackend with fewer queries per page.

Every signed-in page loads the user, checks a permission, shows the role and (for device
pages) reads the user's token. Django's backend makes four queries for that (user, user
permissions, group permissions, and the role's groups) plus one for the profile; this one
makes three, with the same answers:

- the user comes with their profile and token (one join), so `client_for` needs no query;
- the groups come with their permissions in one query that also gives the role.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

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
            names, granted = set(), set()
            rows = user_obj.groups.values_list(
                "name", "permissions__content_type__app_label", "permissions__codename"
            )
            for name, app_label, codename in rows:
                names.add(name)
                if codename:
                    granted.add(f"{app_label}.{codename}")
            user_obj._group_perm_cache = granted
            user_obj._portal_role = highest_role(names)  # what roles.role_of would query
            user_obj._perm_cache = granted | self.get_user_permissions(user_obj)
        return user_obj._perm_cache
