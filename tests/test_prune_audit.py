"""`manage.py prune_audit`: the one way entries leave the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from portal.models import AuditEvent


def aged(days: int) -> AuditEvent:
    at = timezone.now() - timedelta(days=days)
    return AuditEvent.objects.create(username="u", action=f"old.{days}", outcome="ok", at=at)


def test_it_deletes_entries_older_than_the_days_given(db, capsys):
    aged(40), aged(10), aged(1)
    call_command("prune_audit", "--days", "30")
    assert "Deleted 1 audit entry older than 30 days." in capsys.readouterr().out
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {
        "old.10",
        "old.1",
        "audit.prune",
    }
    record = AuditEvent.objects.get(action="audit.prune")
    assert record.sent["deleted"] == 1 and record.sent["days"] == 30


def test_it_defaults_to_the_retention_setting(db, settings):
    settings.PORTAL_AUDIT_RETENTION_DAYS = 5
    aged(6), aged(4)
    call_command("prune_audit")
    assert not AuditEvent.objects.filter(action="old.6").exists()
    assert AuditEvent.objects.filter(action="old.4").exists()


def test_it_refuses_zero_days(db):
    aged(1)
    with pytest.raises(CommandError, match="at least 1"):
        call_command("prune_audit", "--days", "0")
    assert AuditEvent.objects.filter(action="old.1").exists()
