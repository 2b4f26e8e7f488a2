"""Fleet work's permissions (portal/roles.py): tags for operators; the firmware library and
rollouts for maintainers. The role groups get them after migrate (roles.sync_groups)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0009_used_form_key"),
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
                    ("manage_tags", "adding and removing device tags"),
                    ("wifi_reset", "resetting a device's Wi-Fi"),
                    ("manage_buttons", "creating and deleting command buttons"),
                    ("manage_firmware", "uploading, editing and deleting firmware"),
                    (
                        "manage_library",
                        "adding builds to and deleting them from the firmware library",
                    ),
                    ("manage_rollouts", "starting and steering rollouts"),
                    ("set_target", "setting a device's target firmware"),
                    ("trigger_ota", "triggering an OTA update"),
                    ("manage_users", "managing users"),
                    ("manage_tokens", "managing API tokens"),
                    ("view_audit", "reading the whole audit log"),
                ],
            },
        ),
    ]
