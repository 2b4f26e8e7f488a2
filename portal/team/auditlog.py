"""The audit log's pages: the whole log for admins (`view_audit`), with filters, pages and a
CSV export; and "My activity", each user's own entries. Both only read: nothing here edits or
deletes an entry (`manage.py prune_audit` is the only way out of the log).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from portal import audit, storable
from portal.decorators import requires
from portal.models import AuditEvent
from portal.team.forms import AuditFilterForm

PAGE_SIZE = 50
# Every column of the row, and the action in words beside its code.
CSV_COLUMNS = [
    ("at", "time (UTC)"),
    ("username", "user"),
    ("ip", "address"),
    ("token_label", "token"),
    ("device_uid", "device"),
    ("device_name", "device name (then)"),
    ("action", "action"),
    ("action_words", "action (words)"),
    ("sent", "sent"),
    ("outcome", "outcome"),
    ("status_code", "upstream status"),
    ("message", "message"),
]
# Sent JSON up to this long shows in the table as is; longer, folded (pretty when opened).
SHORT_SENT = 40


def _users() -> list[tuple[str, str]]:
    """The user filter's choices: every account, deactivated ones too (they are in the log)."""
    choices = []
    for user in get_user_model().objects.order_by("username"):
        label = user.get_username()
        if user.get_full_name():
            label += f" ({user.get_full_name()})"
        if not user.is_active:
            label += " (deactivated)"
        choices.append((user.get_username(), label))
    return choices


def _filtered(request: HttpRequest, *, mine: bool) -> tuple[AuditFilterForm, QuerySet]:
    """The entries the filters in the address bar select; a filter that doesn't parse is
    ignored (the form shows why)."""
    entries = AuditEvent.objects.all()
    if mine:
        entries = entries.filter(user=request.user)
    actions = list(entries.order_by("action").values_list("action", flat=True).distinct())
    users = [] if mine else _users()
    form = AuditFilterForm(request.GET, actions=actions, users=users, mine=mine)
    form.is_valid()
    data = form.cleaned_data
    device = data.get("device")
    if device:
        # A part of the uid, or of the name the device had when the row was written.
        entries = entries.filter(Q(device_uid__icontains=device) | Q(device_name__icontains=device))
    lookups = {
        "username__iexact": data.get("user"),
        "username__icontains": data.get("username"),
        "action": data.get("action"),
        "outcome": data.get("outcome"),
        "at__date__gte": data.get("since"),
        "at__date__lte": data.get("until"),
    }
    return form, entries.filter(**{k: v for k, v in lookups.items() if v})


def _page(request: HttpRequest, *, mine: bool) -> HttpResponse:
    form, entries = _filtered(request, mine=mine)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    for entry in page:  # old rows may hold text no page can carry (see _cell)
        entry.sent, entry.message = storable.shown(entry.sent), storable.shown(entry.message)
        entry.device_name = storable.shown(entry.device_name)
        _show_sent(entry)
    template = "portal/audit/log.html"
    if request.htmx and request.htmx.target == "audit-table":
        template += "#table"
    return render(request, template, {"form": form, "page": page, "mine": mine})


def _show_sent(entry: AuditEvent) -> None:
    """`sent` as the JSON it is (never a Python repr): one line, and pretty for long ones."""
    if not entry.sent:
        return
    entry.sent_json = json.dumps(entry.sent, ensure_ascii=False)
    if len(entry.sent_json) > SHORT_SENT:
        entry.sent_pretty = json.dumps(entry.sent, ensure_ascii=False, indent=2)


@login_required
@require_GET
@requires("view_audit")
def audit_log(request: HttpRequest) -> HttpResponse:
    return _page(request, mine=False)


@login_required
@require_GET
def my_activity(request: HttpRequest) -> HttpResponse:
    return _page(request, mine=True)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    # Rows stored before they were escaped may hold a lone surrogate (SQLite keeps one in
    # JSON): escape it, or the whole export stops at that row.
    text = "" if value is None else storable.escaped(str(value))
    # A cell starting like a formula is run by spreadsheet programs: defuse it.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _rows(entries: QuerySet) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([heading for _, heading in CSV_COLUMNS])
    for entry in entries.iterator(chunk_size=500):
        values = {field: getattr(entry, field) for field, _ in CSV_COLUMNS}
        values["at"] = entry.at.astimezone(UTC).isoformat(timespec="seconds")
        values["sent"] = json.dumps(entry.sent, ensure_ascii=False, sort_keys=True)
        yield writer.writerow([_cell(values[field]) for field, _ in CSV_COLUMNS])


@login_required
@require_GET
@requires("view_audit")
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered log as CSV, streamed row by row so a large log never sits in memory."""
    form, entries = _filtered(request, mine=False)
    audit.record(
        request, "audit.export", sent={k: str(v) for k, v in form.cleaned_data.items() if v}
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(_rows(entries), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
