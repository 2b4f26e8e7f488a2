"""Re-encrypt every stored token under the first key in PORTAL_TOKEN_KEYS.

Key rotation: put a new key first in PORTAL_TOKEN_KEYS (keep the old ones after it), run this,
then drop the old keys. A token no configured key can decrypt is reported by its label and
left as it is; the command then exits with a non-zero status.
"""

from django.core.management.base import BaseCommand, CommandError

from portal.crypto import TokenUndecryptable, rotate
from portal.models import ApiToken, AuditEvent


class Command(BaseCommand):
    help = "Re-encrypt every API token under the first key of PORTAL_TOKEN_KEYS."

    def handle(self, *args, **options) -> None:
        done, failed = 0, []
        for token in ApiToken.objects.order_by("label"):
            try:
                token.ciphertext = rotate(token.ciphertext)
            except TokenUndecryptable:
                failed.append(token.label)
                self.stderr.write(f"Cannot decrypt “{token.label}” with any key; left untouched.")
                continue
            token.save(update_fields=["ciphertext"])
            done += 1
        AuditEvent.objects.create(
            username="manage.py",
            action="token.rotate_keys",
            outcome=AuditEvent.Outcome.FAILED if failed else AuditEvent.Outcome.OK,
            sent={"re_encrypted": done, "unreadable": failed},
        )
        self.stdout.write(f"Re-encrypted {done} token{'s' * (done != 1)} under the first key.")
        if failed:
            raise CommandError(
                f"{len(failed)} token{'s' * (len(failed) != 1)} could not be decrypted: "
                + ", ".join(failed)
                + ". Restore the missing key, or enter those tokens again."
            )
