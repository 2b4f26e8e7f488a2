"""Business rules for accounts and tokens that views and commands share."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.db import transaction

from portal.models import ApiToken, Profile
from portal.roles import Role


def set_role(user: User, role: Role | None) -> None:
    """Give a user exactly one role (or none)."""
    role_groups = Group.objects.filter(name__in=[r.value for r in Role])
    user.groups.remove(*role_groups)
    if role is not None:
        user.groups.add(Group.objects.get(name=role.value))
    if hasattr(user, "_portal_role"):
        del user._portal_role
    # Django caches permissions on the user object; drop them so checks see the new role.
    for attr in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(attr, None)


def assign_token(user: User, token: ApiToken | None) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    profile.token = token
    profile.save(update_fields=["token"])
    return profile


@transaction.atomic
def save_token(label: str, plaintext: str, created_by: User | None = None) -> ApiToken:
    """Create a token, or replace the value of the one with this label."""
    token = ApiToken.objects.filter(label=label).first() or ApiToken(
        label=label, created_by=created_by
    )
    token.set_value(plaintext)
    token.save()
    return token
