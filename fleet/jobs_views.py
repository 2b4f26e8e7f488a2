"""Bulk actions and jobs: the preview of an action over the selection, the job it starts, the
job's live page (a row per device), its CSV, cancel and retry, and the team's list of jobs.

A job belongs to the token's fleet: a user sees the jobs of the token mapped to them, and any
other job is "not found". Starting, cancelling and retrying a job need the permission of the
same action on one device (fleet.jobs.PERMISSION); each is one audit row (fleet/jobs.py).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from fleet import health, jobs, selection
from fleet.forms import BulkForm
from fleet.models import Job, JobItem
from portal import confirm, outcomes, storable
from portal.decorators import requires
from portal.iot import UID_PATTERN, IoTError, client_for
from portal.models import ApiToken, Profile
from portal.presence import Rule
from portal.results import device_label

ROWS_PER_PAGE = 100  # a job page's device rows
JOBS_PER_PAGE = 25
POLL_SECONDS = 2
SHOWN_NAMES = 12  # devices a preview names before "and N more"
OPEN = (JobItem.State.WAITING, JobItem.State.SENDING)
ENDED = (Job.State.DONE, Job.State.CANCELLED)
# What each action is called in a sentence with its count: "Reboot 12 devices".
VERB = {
    Job.Action.REBOOT: "Reboot",
    Job.Action.OTA: "Start the update of",
    Job.Action.WIFI_RESET: "Reset the Wi-Fi of",
    Job.Action.BUTTON: "Send a command button to",
    Job.Action.COMMAND: "Send a command to",
    Job.Action.TAG_ADD: "Add a tag to",
    Job.Action.TAG_REMOVE: "Remove a tag from",
}
# Actions that go to the devices (the others change the portal's own records).
UPSTREAM = {Job.Action.REBOOT, Job.Action.OTA, Job.Action.WIFI_RESET, Job.Action.BUTTON,
            Job.Action.COMMAND}  # fmt: skip


def _token(request: HttpRequest) -> ApiToken | None:
    """The token mapped to the user: whose fleet they work on."""
    profile = Profile.objects.select_related("token").filter(user=request.user).first()
    return profile.token if profile else None


def _guard(codename: str, action: str | None, view: Callable[..., HttpResponse]):
    """The usual role check (portal.decorators.requires) for a permission known only once
    the action or the job is: the same refusal page, and for a write its refused row."""
    return requires(codename, action=action)(view)


def plural(count: int, word: str = "device") -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


# --- the preview and the job it starts --------------------------------------------------------


@dataclass
class Preview:
    """The selection as the device list says it is now."""

    devices: list[tuple[str, str, bool]] = field(default_factory=list)  # uid, name, online
    gone: int = 0  # selected, but not (or no longer) in the token's fleet
    error: IoTError | None = None

    @property
    def offline(self) -> list[tuple[str, str, bool]]:
        return [device for device in self.devices if not device[2]]

    def names(self, devices: list[tuple[str, str, bool]]) -> tuple[list[str], int]:
        shown = [device_label(name, uid) for uid, name, _ in devices[:SHOWN_NAMES]]
        return shown, max(0, len(devices) - SHOWN_NAMES)


def fingerprint(uids: list[str]) -> str:
    """The selection in 16 characters: what the preview showed, checked again on the post."""
    return hashlib.sha256("\n".join(sorted(uids)).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _preview(request: HttpRequest, token: ApiToken) -> Preview:
    uids = selection.get(request, token.pk)
    if not uids:
        return Preview()
    try:
        listed = {device.uid: device for device in client_for(request.user).list_devices()}
    except IoTError as error:
        return Preview(error=error)
    rule, preview = Rule(), Preview()
    for uid in uids:
        device = listed.get(uid)
        if device is None or not UID_PATTERN.fullmatch(uid):
            preview.gone += 1
            continue
        name = storable.text(device.name or "", 100)
        preview.devices.append((uid, name, rule.online(device.is_online, device.last_seen_at)))
    return preview


@login_required
@require_http_methods(["GET", "POST"])
def bulk(request: HttpRequest) -> HttpResponse:
    """`?action=`: its preview (GET) and the job it starts (POST); no action, the choices."""
    action = request.GET.get("action", "")
    if not action and request.method == "POST":
        action = request.POST.get("action", "")  # a form posted to the bare address
    if action not in Job.Action.values:
        return _guard("view_devices", None, _choose)(request)
    audit = "fleet.job_create" if request.method == "POST" else None
    return _guard(jobs.PERMISSION[action], audit, _bulk)(request, Job.Action(action))


def _choose(request: HttpRequest) -> HttpResponse:
    token = _token(request)
    count = len(selection.get(request, token.pk)) if token else 0
    allowed = [
        (value, label)
        for value, label in Job.Action.choices
        if request.user.has_perm(f"portal.{jobs.PERMISSION[value]}")
    ]
    return render(
        request, "fleet/bulk.html", {"choosing": True, "allowed": allowed, "count": count}
    )


def _bulk(request: HttpRequest, action: Job.Action) -> HttpResponse:
    token = _token(request)
    context: dict[str, object] = {"action": action, "verb": VERB[action], "token": token}
    if token is None:
        if request.method == "POST":
            outcomes.refuse(request, "fleet.job_create", NO_TOKEN, sent={"action": action})
        return render(request, "fleet/bulk.html", {**context, "no_token": NO_TOKEN})
    preview = _preview(request, token)
    data = request.POST if request.method == "POST" else None
    form = BulkForm(data, action=action, count=len(preview.devices), offline=len(preview.offline))
    print_ = fingerprint([uid for uid, _, _ in preview.devices])
    context.update(preview=preview, form=form, fingerprint=print_)
    if request.method == "POST":
        problem = _refusal(request, action, form, preview, print_)
        if problem is None:
            outcome = jobs.create(
                request, token, action, preview.devices,
                params=form.params(), offline=form.cleaned_data["offline"],
                wait_minutes=form.wait(),
            )  # fmt: skip
            if outcome.ok:
                messages.success(request, _started(outcome.answer))
                return redirect("fleet:job", pk=outcome.answer.pk)
            problem = outcome.message
            if getattr(request, "form_key_refusal", None) == problem:
                problem = None  # already said, as a message at the top of the page
        context["problem"] = problem or None
    return render(request, "fleet/bulk.html", _preview_context(context, preview))


NO_TOKEN = "No API token is mapped to your account yet. Ask an admin to assign one."  # noqa: S105


def _refusal(
    request: HttpRequest, action: str, form: BulkForm, preview: Preview, print_: str
) -> str | None:
    """Why the post cannot start a job (recorded as refused), or None."""
    sent = {"action": action}
    if preview.error is not None:
        message = f"The device list could not be read, so nothing was started: {preview.error}"
        outcomes.refuse(request, "fleet.job_create", message, sent=sent)
        return message
    if not form.is_valid():
        errors = {name: list(errs) for name, errs in form.errors.items()}
        recorded = {**outcomes.typed(form), **sent}
        recorded.pop("selection", None)
        outcome = outcomes.refuse(
            request, "fleet.job_create", outcomes.problems(form), sent=recorded, errors=errors
        )
        hidden = [name for name in form.errors if name not in form.shown()]
        # "": each error is said beside its field; one of a field not drawn, on top.
        if not hidden:
            return ""
        return (
            f"This form is not as the page drew it ({outcome.message}): reload the page and "
            "try again. Nothing was started."
        )
    if not preview.devices:
        message = "No devices are selected: select some in the device table first."
        outcomes.refuse(request, "fleet.job_create", message, sent=sent)
        return message
    if form.cleaned_data.get("selection") != print_:
        message = (
            f"The devices to act on changed since this page was drawn (the selection, or the "
            f"fleet): they are now {plural(len(preview.devices))}. Check the preview again; "
            "nothing was started."
        )
        outcomes.refuse(request, "fleet.job_create", message, sent=sent)
        return message
    return None


def _started(job: Job) -> str:
    """ "Reboot queued for 12 devices." and, when some were left out, which and why."""
    counts = jobs.counts(job)
    queued, skipped = counts[JobItem.State.WAITING], counts[JobItem.State.SKIPPED]
    said = f"{job.get_action_display()} queued for {plural(queued)} (job {job.pk})."
    if skipped:
        said += f" {plural(skipped)} that looked offline {'is' if skipped == 1 else 'are'} skipped."
    return said


def _preview_context(context: dict[str, object], preview: Preview) -> dict[str, object]:
    names, more = preview.names(preview.devices)
    offline_names, offline_more = preview.names(preview.offline)
    return {
        **context,
        "names": names,
        "more": more,
        "offline_names": offline_names,
        "offline_more": offline_more,
        "max_wait": settings.PORTAL_FLEET_MAX_WAIT_MINUTES,
        "upstream": context.get("action") in UPSTREAM,
    }


# --- a job ------------------------------------------------------------------------------------


def _job(request: HttpRequest, pk: int) -> Job:
    """The job, if it is of the user's token's fleet; else 404."""
    token = _token(request)
    # A number out of the id's range finds nothing (Django leaves it out of the query).
    job = Job.objects.filter(pk=pk, token=token).first() if token else None
    if job is None:
        raise Http404("No such job.")
    return job


def _state_filter(request: HttpRequest) -> str:
    state = request.GET.get("state", "")
    return state if state in JobItem.State.values else ""


def pace(job: Job, counts: dict[str, int], now: datetime | None = None) -> str:
    """How long the job has to go at its current pace, in words ("" when it cannot be said)."""
    left = counts[JobItem.State.WAITING] + counts[JobItem.State.SENDING]
    if job.state in ENDED or not left or job.started_at is None:
        return ""
    now = now or timezone.now()
    finished = job.items.filter(finished_at__gte=job.started_at).exclude(
        state__in=[*OPEN, JobItem.State.CANCELLED]
    )
    done = finished.count()
    elapsed = (now - job.started_at).total_seconds()
    if not done or elapsed <= 0:
        return "Working out the pace…"
    seconds = left * elapsed / done
    return f"About {_duration(seconds)} left at the current pace."


def _duration(seconds: float) -> str:
    if seconds < 60:
        return plural(max(1, round(seconds)), "second")
    if seconds < 3600:
        return plural(round(seconds / 60), "minute")
    hours, minutes = divmod(round(seconds / 60), 60)
    return plural(hours, "hour") + (f" {plural(minutes, 'minute')}" if minutes else "")


def _live_context(request: HttpRequest, job: Job) -> dict[str, object]:
    counts = jobs.counts(job)
    total = sum(counts.values())
    left = counts[JobItem.State.WAITING] + counts[JobItem.State.SENDING]
    state = _state_filter(request)
    items = job.items.all()
    if state:
        items = items.filter(state=state)
    page = Paginator(items, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    ended = job.state in ENDED
    paused = job.paused_until if job.paused_until and job.paused_until > timezone.now() else None
    return {
        "job": job,
        "counts": [(value, label, counts[value]) for value, label in JobItem.State.choices],
        "total": total,
        "done": total - left,
        "percent": round(100 * (total - left) / total) if total else 100,
        "pace": pace(job, counts),
        "ended": ended,
        # A cancelled job's call in flight ends as it ends: the page follows it to its answer.
        "polls": not ended or counts[JobItem.State.SENDING] > 0,
        "no_worker": not ended
        and counts[JobItem.State.WAITING] > 0
        and health.workers_alive() == 0,
        "paused": paused,
        "state": state,
        "state_label": JobItem.State(state).label if state else "",
        "page": page,
        "poll_seconds": POLL_SECONDS,
        "retryable": counts[JobItem.State.FAILED] + counts[JobItem.State.REFUSED],
        "unknown": counts[JobItem.State.UNKNOWN],
        "may_act": request.user.has_perm(f"portal.{jobs.PERMISSION[job.action]}"),
        "params": _params(job),
    }


def _params(job: Job) -> str:
    """What the job sends, in words."""
    params = job.params or {}
    if job.action == Job.Action.BUTTON:
        return f"Button “{params.get('button_id', '')}”"
    if job.action in (Job.Action.TAG_ADD, Job.Action.TAG_REMOVE):
        return f"Tag “{params.get('tag', '')}”"
    if job.action == Job.Action.COMMAND:
        import json

        return json.dumps(params.get("payload"), ensure_ascii=False)
    return ""


@login_required
@require_GET
@requires("view_devices")
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    context = _live_context(request, job)
    template = "fleet/job.html"
    if request.htmx and request.htmx.target == "job-live":
        template += "#live"
    return render(request, template, context)


# Every column of a row, in the CSV.
CSV_COLUMNS = [
    ("position", "position"),
    ("device_uid", "device"),
    ("device_name", "device name (then)"),
    ("state", "state"),
    ("state_words", "state (words)"),
    ("message", "message"),
    ("status_code", "upstream status"),
    ("attempts", "attempts"),
    ("started_at", "started (UTC)"),
    ("finished_at", "finished (UTC)"),
    ("audit_id", "audit entry"),
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def cell(value: object) -> str:
    """A CSV cell as the audit CSV writes one (portal/team/auditlog.py): NUL and lone
    surrogates escaped, and a cell starting like a formula defused for spreadsheets."""
    text = "" if value is None else storable.escaped(str(value))
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


def _csv_rows(items) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([heading for _, heading in CSV_COLUMNS])
    for item in items.iterator(chunk_size=500):
        values = {name: getattr(item, name, "") for name, _ in CSV_COLUMNS}
        values["state_words"] = item.get_state_display()
        values["started_at"], values["finished_at"] = _utc(item.started_at), _utc(item.finished_at)
        yield writer.writerow([cell(values[name]) for name, _ in CSV_COLUMNS])


@login_required
@require_GET
@requires("view_devices")
def job_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The job's rows (those of the state filter, if any) as CSV, streamed."""
    job = _job(request, pk)
    items = job.items.all()
    state = _state_filter(request)
    if state:
        items = items.filter(state=state)
    response = StreamingHttpResponse(_csv_rows(items), content_type="text/csv; charset=utf-8")
    suffix = f"-{state}" if state else ""
    response["Content-Disposition"] = f'attachment; filename="job-{job.pk}{suffix}.csv"'
    return response


def _back(request: HttpRequest, job: Job) -> HttpResponse:
    url = reverse("fleet:job", kwargs={"pk": job.pk})
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    return _guard(jobs.PERMISSION[job.action], "fleet.job_cancel", _cancel)(request, job)


def _cancel(request: HttpRequest, job: Job) -> HttpResponse:
    if not confirm.confirmed(request):
        waiting = job.items.filter(state=JobItem.State.WAITING).count()
        asked = (
            f"Cancel job {job.pk}? The {plural(waiting)} not yet sent will not be sent "
            "anything; a call already in flight ends as it ends."
        )
        return confirm.ask(request, asked, "Cancel the job", danger=True)
    jobs.cancel(request, job).flash(request)
    return _back(request, job)


@login_required
@require_POST
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    return _guard(jobs.PERMISSION[job.action], "fleet.job_retry", _retry)(request, job)


def _retry(request: HttpRequest, job: Job) -> HttpResponse:
    unknown = request.POST.get("unknown") == "yes"
    if not confirm.confirmed(request):
        return confirm.ask(request, retry_question(job, unknown), "Retry", danger=unknown)
    jobs.retry(request, job, unknown=unknown).flash(request)
    return _back(request, job)


def retry_question(job: Job, unknown: bool) -> str:
    counts = jobs.counts(job)
    again = counts[JobItem.State.FAILED] + counts[JobItem.State.REFUSED]
    if not unknown:
        return f"Send job {job.pk} again to its {plural(again)} that failed or were refused?"
    return (
        f"Send job {job.pk} again to {plural(again + counts[JobItem.State.UNKNOWN])}, including "
        f"the {plural(counts[JobItem.State.UNKNOWN])} whose outcome is unknown? Those may "
        "already have acted on it: they may run it twice."
    )


# --- the team's jobs --------------------------------------------------------------------------


@login_required
@require_GET
@requires("view_devices")
def job_list(request: HttpRequest) -> HttpResponse:
    token = _token(request)
    found = Job.objects.filter(token=token) if token else Job.objects.none()
    page = Paginator(found.order_by("-created_at", "-pk"), JOBS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    # The counts of this page's jobs only, in one grouped read (the (job, state) index).
    counted: dict[int, dict[str, int]] = {}
    rows = JobItem.objects.filter(job__in=[job.pk for job in page]).values_list("job", "state")
    for job_id, state, n in rows.annotate(n=Count("pk")).order_by():
        counted.setdefault(job_id, {})[state] = n
    for job in page:
        mine = counted.get(job.pk, {})
        job.total = sum(mine.values())
        job.counted = [
            (label, mine[value], value) for value, label in JobItem.State.choices if mine.get(value)
        ]
    context = {"page": page, "no_token": None if token else NO_TOKEN, "states": JobItem.State}
    return render(request, "fleet/jobs.html", context)
