"""Every action code the audit log records, in words.

The code (`device.rename`) is what is stored, filtered on and exported; the words ("Renamed
device") are what a person reads in the log, with the code on hover and in the CSV. A code
missing here still shows (as itself): tests/test_audit_log.py finds every code the portal
records in its source and fails until it has words here.
"""

from __future__ import annotations

ACTION_WORDS: dict[str, str] = {
    # Signing in and out (portal/views.py, portal/signals.py)
    "auth.sign_in": "Signed in",
    "auth.sign_out": "Signed out",
    "auth.sign_in_failed": "Failed to sign in",
    "auth.lockout": "Locked out of signing in",
    "auth.lockout_lift": "Lifted a sign-in pause",
    "auth.password_change": "Changed own password",
    "auth.password_change_required": "Refused: a password change is due",
    # Devices (devices/)
    "device.rename": "Renamed device",
    "device.reboot": "Rebooted device",
    "device.wifi_reset": "Reset device Wi-Fi",
    "device.ota": "Started update",
    "device.command": "Sent command",
    "button.create": "Created command button",
    "button.send": "Sent command button",
    "button.delete": "Deleted command button",
    # Recorded only when refused: changing one's own selection is no write.
    "device.select": "Changed the device selection",
    # Fleet work (fleet/): a job's own rows; its devices' writes use the codes above
    "fleet.job_create": "Started a bulk job",
    "fleet.job_cancel": "Cancelled a bulk job",
    "fleet.job_retry": "Retried a bulk job",
    "tag.add": "Added tag to device",
    "tag.remove": "Removed tag from device",
    # The firmware library (fleet/library.py): the portal's own copies of builds
    "library.upload": "Added a build to the firmware library",
    "library.delete": "Deleted a build from the firmware library",
    "library.check": "Checked a file for the firmware library",  # recorded when refused
    "library.find": "Looked for a library build on the devices",  # recorded when refused
    # Rollouts (fleet/rollouts.py): their devices' writes use the firmware codes below
    "rollout.plan": "Planned a rollout",
    "rollout.start": "Started a rollout",
    "rollout.approve": "Approved a rollout",
    "rollout.pause": "Paused a rollout",
    "rollout.resume": "Resumed a rollout",
    "rollout.abort": "Aborted a rollout",
    "rollout.promote": "Promoted a rollout to its next wave",
    "rollout.rollback": "Rolled back a rollout's failed devices",
    # Firmware (firmware/)
    "firmware.check": "Checked firmware file",
    "firmware.upload": "Uploaded firmware",
    "firmware.update": "Edited firmware details",
    "firmware.delete": "Deleted firmware",
    "firmware.set_target": "Set target firmware",
    "firmware.ota": "Started update",
    # Users (portal/team/users.py)
    "user.create": "Created user",
    "user.change": "Changed user",
    "user.active": "Changed whether a user is active",
    "user.deactivate": "Deactivated user",
    "user.reactivate": "Reactivated user",
    "user.password": "Set user's password",
    "user.require_password_change": "Required a password change",
    # API tokens (portal/team/tokens.py, manage.py rotate_token_keys)
    "token.add": "Added API token",
    "token.relabel": "Renamed API token",
    "token.replace": "Replaced API token value",
    "token.verify": "Checked API token",
    "token.delete": "Deleted API token",
    "token.self": "Entered own API token",
    "token.rotate_keys": "Re-encrypted API tokens",
    # The log itself (portal/team/auditlog.py, manage.py prune_audit)
    "audit.export": "Exported audit log",
    "audit.prune": "Pruned audit log",
}


def words(code: str) -> str:
    """The action in words; an unknown code (an old row, a newer version) reads as itself."""
    return ACTION_WORDS.get(code, code)
