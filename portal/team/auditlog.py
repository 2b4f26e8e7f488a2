"""The audit log's pages: the whole log for admins (`view_audit`), with filters, pages and a
CSV export; and "My activity", each user's own entries. Both only read: nothing here edits or
deletes an entry (`manage.py prune_audit` is the only way out of the log).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from portal import audit, storable
from portal.decorators import requires
from portal.models import AuditEvent
from portal.team.forms import AuditFilterForm

PAGE_SIZE = 50
CSV_COLUMNS = [
    ("at", "time (UTC)"),
    ("username", "user"),
    ("ip", "address"),
    ("token_label", "token"),
    ("device_uid", "device"),
    ("action", "action"),
    ("sent", "sent"),
    ("outcome", "outcome"),
    ("status_code", "upstream status"),
    ("message", "message"),
]


def _filtered(request: HttpRequest, *, mine: bool) -> tuple[AuditFilterForm, QuerySet]:
    """The entries the filters in the address bar select; a filter that doesn't parse is
    ignored (the form shows why)."""
    entries = AuditEvent.objects.all()
    if mine:
        entries = entries.filter(user=request.user)
    actions = list(entries.order_by("action").values_list("action", flat=True).distinct())
    form = AuditFilterForm(request.GET, actions=actions, mine=mine)
    form.is_valid()
    data = form.cleaned_data
    lookups = {
        "username__iexact": data.get("user"),
        "device_uid__icontains": data.get("device"),
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
    template = "portal/audit/log.html"
    if request.htmx and request.htmx.target == "audit-table":
        template += "#table"
    return render(request, template, {"form": form, "page": page, "mine": mine})


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
        values = [getattr(entry, field) for field, _ in CSV_COLUMNS]
        values[0] = entry.at.astimezone(UTC).isoformat(timespec="seconds")
        values[6] = json.dumps(entry.sent, ensure_ascii=False, sort_keys=True)
        yield writer.writerow([_cell(v) for v in values])


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
