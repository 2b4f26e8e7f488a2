"""The portal's sign-in backend: Django's ModelBackend with cheaper queries per page.

Every signed-in page loads the user, checks a permission, shows the role and (for device
pages) reads the user's token. Django's backend makes four queries for that (user, user
permissions, group permissions, and the role's groups) plus one for the profile; this one
makes two, with the same answers:

- the user comes with their profile and token (one join), so `client_for` needs no query;
- the user's groups with their permissions, and the user's own permissions, come in one
  query, which also gives the role.

Both are precompiled (portal.precompiled): written with the ORM, compiled to SQL once,
then sent again with each user's id. Compiling them cost most of their time.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import router
from django.db.models import CharField, Model, QuerySet, Value

from portal.models import ApiToken, Profile
from portal.precompiled import Precompiled
from portal.roles import highest_role

UserModel = get_user_model()


def _attnames(model: type[Model], prefix: str = "") -> list[str]:
    return [prefix + f.attname for f in model._meta.concrete_fields]


# The user's columns, then the profile's, then the token's (NULLs where there is none).
_USER_COLUMNS = _attnames(UserModel)
_PROFILE_COLUMNS = _attnames(Profile, "portal_profile__")
_TOKEN_COLUMNS = _attnames(ApiToken, "portal_profile__token__")
_USER_ROW = Precompiled(
    lambda pk: UserModel._default_manager.filter(pk=pk).values_list(
        *_USER_COLUMNS, *_PROFILE_COLUMNS, *_TOKEN_COLUMNS
    )
)


def _grants(user_id: int) -> QuerySet:
    """(group name, app label, codename) for each of the user's groups and its permissions,
    then (None, app label, codename) for each permission the user holds directly: one query.
    """
    via_groups = Group.objects.filter(user=user_id).values_list(
        "name", "permissions__content_type__app_label", "permissions__codename"
    )
    own = Permission.objects.filter(user=user_id).values_list(
        Value(None, output_field=CharField()), "content_type__app_label", "codename"
    )
    return via_groups.order_by().union(own.order_by(), all=True)


_GRANTS = Precompiled(_grants)


def _user_with_profile(pk: int) -> Model | None:
    """The user, with `portal_profile` and its `token` loaded as select_related would."""
    db = router.db_for_read(UserModel)
    rows = _USER_ROW.rows(pk, using=db)
    if not rows:
        return None
    row = rows[0]
    n_user, n_profile = len(_USER_COLUMNS), len(_PROFILE_COLUMNS)
    user = UserModel.from_db(db, _USER_COLUMNS, row[:n_user])
    profile_values = row[n_user : n_user + n_profile]
    profile = None
    if profile_values[0] is not None:
        profile = Profile.from_db(db, _PROFILE_COLUMNS, profile_values)
        token_values = row[n_user + n_profile :]
        token = None
        if token_values[0] is not None:
            token = ApiToken.from_db(db, _TOKEN_COLUMNS, token_values)
        Profile.user.field.set_cached_value(profile, user)
        Profile.token.field.set_cached_value(profile, token)
    # Cached as None too, as select_related does: no query to find there is no profile.
    UserModel.portal_profile.related.set_cached_value(user, profile)
    return user


class PortalBackend(ModelBackend):
    def get_user(self, user_id):
        try:
            pk = UserModel._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        user = _user_with_profile(pk)
        return user if user is not None and self.user_can_authenticate(user) else None

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
            db = router.db_for_read(Permission)
            for group, app_label, codename in _GRANTS.rows(user_obj.pk, using=db):
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
