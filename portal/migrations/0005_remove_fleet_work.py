"""The `fleet_work` permission goes: nothing checks it yet. Fleet work (a later issue) adds it
back, with its own migration, when there is fleet work to guard.

Django leaves a permission row behind when a model's Meta stops declaring it, and the role
groups (and any user it was granted to) would keep holding it; deleting the row takes it from
all of them, so a database migrated from 0002 matches a fresh one. Reversed, the maintainer
and admin groups get it back, as 0002 gave it.
"""

from django.db import migrations

CODENAME = "fleet_work"


def remove_permission(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="portal", codename=CODENAME).delete()


def restore_permission(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_type, _ = ContentType.objects.get_or_create(app_label="portal", model="access")
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type,
        codename=CODENAME,
        defaults={"name": "Working on the whole fleet"},
    )
    for group in Group.objects.filter(name__in=["maintainer", "admin"]):
        group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0004_audit_outcome_unknown"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="access",
            options={
                "default_permissions": (),
                "managed": False,
                "permissions": [
                    ("view_devices", "viewing devices and firmware"),
                    ("rename_device", "renaming a device"),
                    ("reboot_device", "rebooting a device"),
                    ("send_command", "sending a command"),
                    ("send_button", "sending a command button"),
                    ("wifi_reset", "resetting a device's Wi-Fi"),
                    ("manage_buttons", "creating and deleting command buttons"),
                    ("manage_firmware", "uploading, editing and deleting firmware"),
                    ("set_target", "setting a device's target firmware"),
                    ("trigger_ota", "triggering an OTA update"),
                    ("manage_users", "managing users"),
                    ("manage_tokens", "managing API tokens"),
                    ("view_audit", "reading the whole audit log"),
                ],
            },
        ),
        migrations.RunPython(remove_permission, restore_permission),
    ]
