"""The four roles and what each may do.

Roles are Django groups; each action is a Django permission on the portal app (declared on
portal.models.Access, granted to the groups by a data migration). A role includes every
permission of the roles below it. Views check permissions, never role names, so a site can
build its own groups if it must.
"""

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    MAINTAINER = "maintainer"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return self.value.capitalize()


ROLE_ORDER = [Role.VIEWER, Role.OPERATOR, Role.MAINTAINER, Role.ADMIN]

# codename -> (what the action is, in a sentence's words; the least role that may do it)
PERMISSIONS: dict[str, tuple[str, Role]] = {
    "view_devices": ("viewing devices and firmware", Role.VIEWER),
    "rename_device": ("renaming a device", Role.OPERATOR),
    "reboot_device": ("rebooting a device", Role.OPERATOR),
    "send_command": ("sending a command", Role.OPERATOR),
    "send_button": ("sending a command button", Role.OPERATOR),
    "manage_tags": ("adding and removing device tags", Role.OPERATOR),
    "wifi_reset": ("resetting a device's Wi-Fi", Role.MAINTAINER),
    "manage_buttons": ("creating and deleting command buttons", Role.MAINTAINER),
    "manage_firmware": ("uploading, editing and deleting firmware", Role.MAINTAINER),
    "manage_library": (
        "adding builds to and deleting them from the firmware library",
        Role.MAINTAINER,
    ),
    "manage_rollouts": ("starting and steering rollouts", Role.MAINTAINER),
    "set_target": ("setting a device's target firmware", Role.MAINTAINER),
    "trigger_ota": ("triggering an OTA update", Role.MAINTAINER),
    "manage_users": ("managing users", Role.ADMIN),
    "manage_tokens": ("managing API tokens", Role.ADMIN),
    "view_audit": ("reading the whole audit log", Role.ADMIN),
}


def permissions_for(role: Role) -> list[str]:
    """Codenames a role holds: its own and those of every role below it."""
    rank = ROLE_ORDER.index(role)
    return [code for code, (_, least) in PERMISSIONS.items() if ROLE_ORDER.index(least) <= rank]


def refusal(codename: str) -> str:
    """The sentence shown when a user lacks a permission: it names the role needed."""
    action, least = PERMISSIONS[codename]
    return f"{action[0].upper()}{action[1:]} needs the {least.value} role."


def role_of(user) -> Role | None:
    """The highest role a user holds, or None (superusers count as admins)."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.ADMIN
    if not hasattr(user, "_portal_role"):
        # Usually set already by the permission check (portal.backends), without a query.
        user._portal_role = highest_role(set(user.groups.values_list("name", flat=True)))
    return user._portal_role


def highest_role(group_names: set[str]) -> Role | None:
    held = [role for role in ROLE_ORDER if role.value in group_names]
    return held[-1] if held else None


def sync_groups(**_: object) -> None:
    """Make the role groups hold exactly the permissions this module gives them.

    The data migration creates them once; this runs after every migrate (and every test
    flush), so a permission added here reaches the groups without a new data migration.
    """
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    content_type, _ = ContentType.objects.get_or_create(app_label="portal", model="access")
    for role in ROLE_ORDER:
        group, _ = Group.objects.get_or_create(name=role.value)
        permissions = [
            Permission.objects.get_or_create(
                content_type=content_type,
                codename=code,
                defaults={"name": PERMISSIONS[code][0].capitalize()[:255]},
            )[0]
            for code in permissions_for(role)
        ]
        group.permissions.set(permissions)
