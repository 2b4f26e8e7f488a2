"""Create or update a portal user without prompts, for scripts and the demo.

A new token's value is read from standard input or a file, never from the command line,
where it would be visible to every user of the machine and in shell history.
"""

import sys
from pathlib import Path

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal import services
from portal.models import ApiToken
from portal.roles import Role


class Command(BaseCommand):
    help = "Create or update a user: role, password, and the API token it is mapped to."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", choices=[r.value for r in Role])
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from stdin"
        )
        parser.add_argument("--password-file", type=Path, help="read the password from a file")
        parser.add_argument("--token-label", help="map the user to the token with this label")
        parser.add_argument(
            "--token-stdin",
            action="store_true",
            help="read a token value from stdin and store it under --token-label",
        )
        parser.add_argument("--token-file", type=Path, help="read a token value from a file")
        parser.add_argument("--email", default=None)
        parser.add_argument("--deactivate", action="store_true")

    def handle(self, *args, **options) -> None:
        stdin_uses = sum(bool(options[k]) for k in ("password_stdin", "token_stdin"))
        if stdin_uses > 1:
            raise CommandError("Only one of --password-stdin and --token-stdin can use stdin.")
        user, created = User.objects.get_or_create(username=options["username"])
        password = self._secret(options["password_stdin"], options["password_file"])
        if password:
            user.set_password(password)
        elif created:
            user.set_unusable_password()
        if options["email"] is not None:
            user.email = options["email"]
        user.is_active = not options["deactivate"]
        user.save()
        if options["role"]:
            services.set_role(user, Role(options["role"]))

        token_value = self._secret(options["token_stdin"], options["token_file"])
        label = options["token_label"]
        if token_value and not label:
            raise CommandError("--token-label names the token being stored.")
        if label:
            if token_value:
                try:
                    token = services.save_token(label, token_value)
                except ValueError as error:  # a token a header cannot carry: never stored
                    raise CommandError(str(error)) from None
            else:
                token = ApiToken.objects.filter(label=label).first()
                if token is None:
                    raise CommandError(f"No token is labelled {label!r}.")
            services.assign_token(user, token)
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} user {user.username}.")

    @staticmethod
    def _secret(from_stdin: bool, path: Path | None) -> str:
        if from_stdin:
            return sys.stdin.readline().strip()
        if path is not None:
            try:
                return path.read_text().strip()
            except OSError as error:
                raise CommandError(f"Cannot read {path}: {error.strerror}.") from None
        return ""
