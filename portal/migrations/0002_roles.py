"""Create the four role groups with their permissions (portal.roles is the source)."""

from django.db import migrations

ROLES = {
    "viewer": ["view_devices"],
    "operator": ["view_devices", "rename_device", "reboot_device", "send_command", "send_button"],
    "maintainer": [
        "view_devices", "rename_device", "reboot_device", "send_command", "send_button",
        "wifi_reset", "manage_buttons", "manage_firmware", "set_target", "trigger_ota",
        "fleet_work",
    ],
}  # fmt: skip
ROLES["admin"] = [*ROLES["maintainer"], "manage_users", "manage_tokens", "view_audit"]


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_type, _ = ContentType.objects.get_or_create(app_label="portal", model="access")
    for role, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = []
        for codename in codenames:
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type,
                codename=codename,
                defaults={"name": codename.replace("_", " ").capitalize()},
            )
            permissions.append(permission)
        group.permissions.set(permissions)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
