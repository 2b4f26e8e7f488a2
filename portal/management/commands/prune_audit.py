"""Delete audit entries older than N days: the one way an entry ever leaves the log."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from portal.models import AuditEvent


class Command(BaseCommand):
    help = "Delete audit entries older than --days (default PORTAL_AUDIT_RETENTION_DAYS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"keep this many days (default {settings.PORTAL_AUDIT_RETENTION_DAYS})",
        )

    def handle(self, *args, days: int | None = None, **options) -> None:
        days = settings.PORTAL_AUDIT_RETENTION_DAYS if days is None else days
        if days < 1:
            raise CommandError("--days must be at least 1.")
        cutoff = timezone.now() - timedelta(days=days)
        deleted = AuditEvent.objects.prune_before(cutoff)
        # The pruning itself is recorded, so a gap in the log is explained.
        AuditEvent.objects.create(
            username="manage.py",
            action="audit.prune",
            sent={"days": days, "deleted": deleted, "before": cutoff.isoformat(timespec="seconds")},
        )
        self.stdout.write(
            f"Deleted {deleted} audit entr{'y' if deleted == 1 else 'ies'} older than {days} days."
        )
