"""Rollouts' pages, under /fleet/rollouts/: planning one (the form, then its draft as the
preview), its live page (waves, counts, each device's timeline from the ledger), the steering
buttons (start, approve, pause, resume, abort, promote, roll back the failed devices), its
CSV report, the "needs a visit" list (printable, exportable) and the team's rollouts.

A rollout belongs to the token's fleet: a user sees the rollouts of the token mapped to them,
and any other is "not found". Everyone with a role may read them (as the jobs and the
library: viewers already see each device's firmware); planning and steering need
`manage_rollouts` (maintainers and admins). Each write is one audit row (fleet/rollouts.py).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from fleet import health, rollouts, selection, sources, tags
from fleet.jobs_views import NO_TOKEN, cell, plural
from fleet.library import label
from fleet.models import Build, Rollout, Step, Target, Wave
from fleet.rollout_forms import DAYS, RolloutForm
from portal import confirm, outcomes
from portal.decorators import requires
from portal.models import ApiToken, Profile

ROWS_PER_PAGE = 50  # a rollout page's device rows (each with its timeline)
ROLLOUTS_PER_PAGE = 25
POLL_SECONDS = 2
TIMELINE_LINES = 12  # a device's timeline on the page, at most (the report has every step)
LISTED = 200  # devices a draft's preview names as left out or skipped, before "N more"
PLAN = "rollout.plan"
S = Target.State
# The states a device is in while the rollout works on it (the page follows them).
WORKING = (S.UPLOADING, S.TARGETING, S.TRIGGERING, S.FOLLOWING, S.SOAKING)
# Which counts the page shows first, in this order (the others follow when not zero).
SUMMARY = (S.HEALTHY, S.FAILED, S.TIMED_OUT, S.NEEDS_VISIT, S.WAITING, *WORKING)


def _token(request: HttpRequest) -> ApiToken | None:
    profile = Profile.objects.select_related("token").filter(user=request.user).first()
    return profile.token if profile else None


def _rollout(request: HttpRequest, pk: int) -> Rollout:
    """The rollout, if it is of the user's token's fleet; else 404."""
    token = _token(request)
    found = (
        Rollout.objects.filter(pk=pk, token=token).select_related("build", "rollback_of").first()
        if token
        else None
    )
    if found is None:
        raise Http404("No such rollout.")
    return found


def title(rollout: Rollout) -> str:
    if rollout.build is not None:
        return f"Rollout {rollout.pk}: {label(rollout.build)}"
    back = f" of rollout {rollout.rollback_of_id}" if rollout.rollback_of_id else ""
    return f"Rollout {rollout.pk}: roll back{back} to the previous builds"


# --- planning -------------------------------------------------------------------------------


def _builds(token: ApiToken | None) -> list[Build]:
    return list(Build.objects.filter(token=token).order_by("-uploaded_at", "-pk")) if token else []


def _new_context(request: HttpRequest, token: ApiToken | None, form: RolloutForm) -> dict:
    chosen = len(selection.get(request, token.pk)) if token else 0
    return {
        "form": form,
        "token": token,
        "no_token": None if token else NO_TOKEN,
        "selected": chosen,
        "fleet_tags": tags.of_fleet(token),
        "days": DAYS,
        "approval_above": settings.PORTAL_ROLLOUT_APPROVAL_ABOVE,
    }


def _initial(request: HttpRequest, builds: list[Build]) -> dict[str, Any]:
    """A link may choose the build, the source, the tag or the search (the library's and the
    table's "roll out" links)."""
    initial: dict[str, Any] = {}
    source = request.GET.get("source", "")
    if source in dict(sources.CHOICES):
        initial["source"] = source
    for name in ("tag", "search"):
        value = request.GET.get(name, "")
        if value and len(value) <= 2000:
            initial[name] = value
    build = request.GET.get("build", "")
    if build.isdigit() and any(str(b.pk) == build for b in builds):
        initial["build"] = int(build)
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def rollout_new(request: HttpRequest) -> HttpResponse:
    audit = PLAN if request.method == "POST" else None
    return requires("manage_rollouts", action=audit)(_new)(request)


def _new(request: HttpRequest) -> HttpResponse:
    token = _token(request)
    builds = _builds(token)
    if request.method != "POST":
        form = RolloutForm(initial=_initial(request, builds), builds=builds)
        return render(request, "fleet/rollout_new.html", _new_context(request, token, form))
    form = RolloutForm(request.POST, builds=builds)
    context = _new_context(request, token, form)
    problem = _plan(request, token, form)
    if isinstance(problem, HttpResponse):
        return problem
    context["problem"] = problem or None
    return render(request, "fleet/rollout_new.html", context, status=200)


def _plan(request: HttpRequest, token: ApiToken | None, form: RolloutForm) -> str | HttpResponse:
    """Plan the rollout (its draft is the preview); why not, in a sentence ("" when said
    beside the fields)."""
    if token is None:
        outcomes.refuse(request, PLAN, NO_TOKEN)
        return NO_TOKEN
    if not form.is_valid():
        errors = {name: list(errs) for name, errs in form.errors.items()}
        outcomes.refuse(
            request, PLAN, outcomes.problems(form), sent=outcomes.typed(form), errors=errors
        )
        return ""
    data = form.cleaned_data
    chosen = sources.resolve(request, token, data["source"], data["tag"], data["search"])
    sent = {"source": data["source"], "build": data["build"]}
    if chosen.error is not None:
        message = f"The device list could not be read, so nothing was planned: {chosen.error}"
        outcomes.refuse(request, PLAN, message, sent=sent)
        return message
    if not chosen.devices:
        message = {
            sources.SELECTION: "No devices are selected: select some in the device table, or "
            "choose a tag or a search.",
            sources.TAG: f"No device of this fleet has the tag “{data['tag']}”.",
            sources.SEARCH: "The search finds no device of this fleet.",
        }[data["source"]]
        outcomes.refuse(request, PLAN, message, sent=sent)
        return message
    build = form.builds.get(data["build"])
    outcome = rollouts.plan(request, token, build, chosen.devices, **form.plan_options())
    if outcome.ok:
        said = {
            sources.SELECTION: "the devices selected in the table",
            sources.TAG: f"the devices with the tag “{data['tag']}”",
            sources.SEARCH: "the devices the table's search finds",
        }[data["source"]]
        gone = f" ({plural(chosen.gone)} no longer in the fleet left out)" if chosen.gone else ""
        messages.success(request, f"{outcome.message} Chosen: {said}{gone}.")
        return redirect("fleet:rollout", pk=outcome.answer.pk)
    if getattr(request, "form_key_refusal", None) == outcome.message:
        return ""  # already said, as a message at the top of the page
    return outcome.message


# --- a rollout's page -----------------------------------------------------------------------


def _state_filter(request: HttpRequest) -> str:
    state = request.GET.get("state", "")
    return state if state in Target.State.values else ""


def timeline(steps: Iterable[Step]) -> list[dict[str, Any]]:
    """A device's steps in order, runs of follow reads with the same outcome and message
    folded into one line ("Follow ×12"), so a long wait stays readable."""
    lines: list[dict[str, Any]] = []
    for step in steps:
        last = lines[-1] if lines else None
        if (
            last is not None
            and step.kind == Step.Kind.POLL
            and last["kind"] == Step.Kind.POLL
            and last["outcome"] == step.outcome
            and last["message"] == step.message
        ):
            last["times"] += 1
            last["until"] = step.at
            continue
        lines.append(
            {
                "kind": step.kind,
                "kind_label": step.get_kind_display(),
                "outcome": step.outcome,
                # A follow read is a read: its message says what was seen ("Offline." is no
                # refusal); only a read that decided a failure says so.
                "outcome_label": ""
                if step.kind == Step.Kind.POLL and step.outcome != Step.Outcome.ERROR
                else step.get_outcome_display(),
                "message": step.message,
                "status_code": step.status_code,
                "at": step.at,
                "until": None,
                "times": 1,
                "audited": step.audit_id is not None,
            }
        )
    return _shortened(lines)


def _shortened(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most TIMELINE_LINES lines (the page is redrawn every few seconds): every write step
    is kept, and the follow reads before the last few are said as one "N earlier reads" line
    (all of them are in the CSV report)."""
    if len(lines) <= TIMELINE_LINES:
        return lines
    reads = [n for n, line in enumerate(lines) if line["kind"] == Step.Kind.POLL]
    writes = len(lines) - len(reads)
    keep = max(2, TIMELINE_LINES - writes - 1)
    hidden = set(reads[:-keep])
    if not hidden:
        return lines
    shortened: list[dict[str, Any]] = []
    for n, line in enumerate(lines):
        if n not in hidden:
            shortened.append(line)
        elif not shortened or shortened[-1]["kind"] != "earlier":
            shortened.append({"kind": "earlier", "times": 0, "at": line["at"]})
        if n in hidden:
            shortened[-1]["times"] += line["times"]
    return shortened


def _waves(rollout: Rollout) -> list[dict[str, Any]]:
    found: dict[int, dict[str, int]] = {}
    rows = rollout.targets.exclude(wave=None).values_list("wave", "state")
    for wave_id, state, n in rows.annotate(n=Count("pk")).order_by():
        found.setdefault(wave_id, {})[state] = n
    shown = []
    for wave in rollout.waves.order_by("number"):
        mine = found.get(wave.pk, {})
        shown.append(
            {
                "wave": wave,
                "name": "Canary" if wave.percent is None else f"Wave {wave.number}",
                "upto": wave.percent,
                "healthy": mine.get(S.HEALTHY, 0),
                "failed": sum(mine.get(s, 0) for s in Target.FAILURES),
                "working": sum(mine.get(s, 0) for s in WORKING),
                "waiting": mine.get(S.WAITING, 0),
                "other": sum(
                    n
                    for s, n in mine.items()
                    if s not in (S.HEALTHY, S.WAITING, *Target.FAILURES, *WORKING)
                ),
            }
        )
    return shown


def _actions(request: HttpRequest, rollout: Rollout, counts: dict[str, int], waves) -> dict:
    """Which steering buttons the page offers now (the services refuse the rest anyway)."""
    state = rollout.state
    may = request.user.has_perm("portal.manage_rollouts")
    waves_ = [w["wave"] for w in waves]
    current = any(w.state in (Wave.State.RUNNING, Wave.State.PAUSED) for w in waves_)
    pending = next((w for w in waves_ if w.state == Wave.State.PENDING), None)
    started = any(w.state != Wave.State.PENDING for w in waves_)
    own = rollout.created_by_id is not None and rollout.created_by_id == request.user.pk
    rollback = rollout.targets.filter(state__in=Target.FAILURES).exclude(previous_md5="").count()
    return {
        "may_act": may,
        "can_start": may and state == Rollout.State.DRAFT,
        "can_approve": may and state == Rollout.State.AWAITING_APPROVAL and not own,
        "own_approval": state == Rollout.State.AWAITING_APPROVAL and own,
        "can_pause": may and state in (Rollout.State.RUNNING, Rollout.State.SCHEDULED),
        "can_resume": may and state == Rollout.State.PAUSED,
        "can_abort": may and state not in Rollout.ENDED,
        "can_promote": may
        and state == Rollout.State.RUNNING
        and started
        and not current
        and pending is not None,
        "next_wave": pending,
        "rollback_count": rollback if may else 0,
        "ask": {
            "start": _start_question(rollout),
            "abort": _abort_question(rollout),
            "promote": _promote_question(rollout),
            "approve": _approve_question(rollout),
            "rollback": _rollback_question(rollout),
        }
        if may
        else {},
    }


def _listed(rollout: Rollout, state: str) -> list[Target]:
    return list(rollout.targets.filter(state=state).order_by("position")[:LISTED])


def duration(seconds: int) -> str:
    """A duration in words: "30 seconds", "5 minutes", "1 hour 30 minutes"."""
    if seconds < 60 or seconds % 60:
        return plural(seconds, "second")
    if seconds < 3600:
        return plural(seconds // 60, "minute")
    hours, minutes = divmod(seconds // 60, 60)
    return plural(hours, "hour") + (f" {plural(minutes, 'minute')}" if minutes else "")


def _live_context(request: HttpRequest, rollout: Rollout) -> dict[str, Any]:
    counts = rollouts.counts(rollout)
    waves = _waves(rollout)
    state = _state_filter(request)
    targets = rollout.targets.select_related("wave").prefetch_related(
        Prefetch("steps", queryset=Step.objects.order_by("at", "pk"))
    )
    if state:
        targets = targets.filter(state=state)
    page = Paginator(targets.order_by("position", "pk"), ROWS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    rows = [(target, timeline(target.steps.all())) for target in page]
    ended = rollout.state in Rollout.ENDED
    working = sum(counts[s] for s in WORKING)
    draft = rollout.state == Rollout.State.DRAFT
    planning = rollout.state == Rollout.State.PLANNING
    preview = draft or planning
    updating = counts["total"] - counts[S.EXCLUDED] - counts[S.SKIPPED]
    return {
        "rollout": rollout,
        "title": title(rollout),
        "counts": counts,
        "states": [(v, lbl, counts[v]) for v, lbl in Target.State.choices],
        "summary": [(v, Target.State(v).label, counts[v]) for v in SUMMARY if counts[v]],
        "updating": updating,
        "done": counts[S.HEALTHY]
        + counts["failures"]
        + counts[S.MISSED]
        + counts[S.UNKNOWN]
        + counts[S.CANCELLED],
        "waves": waves,
        "ended": ended,
        "draft": draft,
        "planning": planning,
        "preview": preview,
        "checked": counts["total"] - counts[S.CHECKING],
        "approval_above": settings.PORTAL_ROLLOUT_APPROVAL_ABOVE,
        # A draft waits for a maintainer: nothing changes by itself until it is started.
        "polls": not draft and (not ended or working > 0),
        "no_worker": (
            (rollout.state == Rollout.State.RUNNING and (counts[S.WAITING] or working))
            or (planning and counts[S.CHECKING])
        )
        and health.workers_alive() == 0,
        "state": state,
        "state_label": Target.State(state).label if state else "",
        "page": page,
        "rows": rows,
        "poll_seconds": POLL_SECONDS,
        "excluded": _listed(rollout, S.EXCLUDED) if preview else [],
        "excluded_more": max(0, counts[S.EXCLUDED] - LISTED) if preview else 0,
        "skipped": _listed(rollout, S.SKIPPED) if preview else [],
        "skipped_more": max(0, counts[S.SKIPPED] - LISTED) if preview else 0,
        "visits": counts[S.NEEDS_VISIT],
        **_actions(request, rollout, counts, waves),
    }


@login_required
@require_GET
@requires("view_devices")
def rollout_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rollout = _rollout(request, pk)
    context = _live_context(request, rollout)
    context.update(
        schedule=schedule(rollout),
        soak=duration(rollout.soak_seconds),
        offline_wait=duration(rollout.offline_wait_seconds),
        follow_timeout=duration(rollout.follow_timeout_seconds),
    )
    template = "fleet/rollout.html"
    if request.htmx and request.htmx.target == "rollout-live":
        template += "#live"
    return render(request, template, context)


def schedule(rollout: Rollout) -> str:
    """The rollout's schedule in words, in its window's time zone ("" when it may work at
    any time): "not before 2031-06-01 22:00, only on Mon, Sat, from 22:00 to 05:00
    (Europe/Berlin)"."""
    said = []
    try:
        zone = ZoneInfo(rollout.window_tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    if rollout.start_at:
        said.append(f"not before {rollout.start_at.astimezone(zone):%Y-%m-%d %H:%M}")
    days = ", ".join(name for n, name in DAYS if n in (rollout.window_days or []))
    if days:
        said.append(f"only on {days}")
    if rollout.window_start_hour is not None and rollout.window_end_hour is not None:
        said.append(f"from {rollout.window_start_hour:02}:00 to {rollout.window_end_hour:02}:00")
    return f"{', '.join(said)} ({zone.key})" if said else ""


# --- the CSV report and the "needs a visit" list --------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv(rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        # A number is no formula (an RSSI of -71 stays a number); text is defused.
        yield writer.writerow([value if isinstance(value, int) else cell(value) for value in row])


def _download(rows: Iterable[list[Any]], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
@requires("view_devices")
def rollout_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Every device of the rollout, its state, what it ran and its steps, as CSV."""
    rollout = _rollout(request, pk)
    return _download(rollouts.report_rows(rollout), f"rollout-{rollout.pk}.csv")


VISIT_HEADER = [
    "device_uid", "device_name", "last_ip", "last_rssi", "last_seen_at", "description", "why",
    "previous_version", "wave",
]  # fmt: skip


def _visit_rows(rollout: Rollout) -> Iterator[list[Any]]:
    yield list(VISIT_HEADER)
    for t in rollouts.needs_visit(rollout):
        yield [
            t.device_uid, t.device_name, t.last_ip, "" if t.last_rssi is None else t.last_rssi,
            t.last_seen_at, t.description, t.why, t.previous_version, str(t.wave or ""),
        ]  # fmt: skip


@login_required
@require_GET
@requires("view_devices")
def rollout_visits(request: HttpRequest, pk: int) -> HttpResponse:
    """The devices that dropped offline and stayed away: a page to print, or its CSV."""
    rollout = _rollout(request, pk)
    if request.GET.get("format") == "csv":
        return _download(_visit_rows(rollout), f"rollout-{rollout.pk}-needs-a-visit.csv")
    context = {
        "rollout": rollout,
        "title": title(rollout),
        "targets": rollouts.needs_visit(rollout),
        "printed_at": datetime.now(UTC),
    }
    return render(request, "fleet/rollout_visits.html", context)


# --- steering -------------------------------------------------------------------------------


def _back(request: HttpRequest, rollout: Rollout | int) -> HttpResponse:
    pk = rollout if isinstance(rollout, int) else rollout.pk
    url = reverse("fleet:rollout", kwargs={"pk": pk})
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _steer(name: str, question, button: str, danger: bool = False):
    """A steering view: the role check (its refusal recorded), the confirmation when asked
    for (`question(rollout)`), then the service's one write."""
    service = getattr(rollouts, name)

    def act(request: HttpRequest, rollout: Rollout) -> HttpResponse:
        if question is not None and not confirm.confirmed(request):
            return confirm.ask(request, question(rollout), button, danger=danger)
        outcome = service(request, rollout)
        outcome.flash(request)
        return _back(request, rollout)

    @login_required
    @require_POST
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        rollout = _rollout(request, pk)
        return requires("manage_rollouts", action=f"rollout.{name}")(act)(request, rollout)

    view.__name__ = f"rollout_{name}"
    view.__doc__ = service.__doc__
    return view


def _start_question(rollout: Rollout) -> str:
    waiting = rollout.targets.filter(state=S.WAITING).count()
    return (
        f"Start rollout {rollout.pk}? It uploads the build to {plural(waiting)}, sets it as "
        "their target and starts their update, wave by wave."
    )


def _abort_question(rollout: Rollout) -> str:
    if rollout.state in (Rollout.State.DRAFT, Rollout.State.PLANNING):
        return f"Discard the draft of rollout {rollout.pk}? No device has been touched."
    return (
        f"Abort rollout {rollout.pk}? Devices not yet updating will not be touched; devices "
        "already updating are followed to their end. An aborted rollout cannot be resumed."
    )


def _promote_question(rollout: Rollout) -> str:
    nxt = rollout.waves.filter(state=Wave.State.PENDING).order_by("number").first()
    size = plural(nxt.size) if nxt else "the next devices"
    return f"Promote rollout {rollout.pk} to its next wave ({size})?"


def _approve_question(rollout: Rollout) -> str:
    waiting = rollout.targets.filter(state=S.WAITING).count()
    return f"Approve rollout {rollout.pk} of {plural(waiting)}? It starts (or waits for its time)."


rollout_start = _steer("start", _start_question, "Start the rollout")
rollout_approve = _steer("approve", _approve_question, "Approve")
rollout_pause = _steer("pause", None, "Pause")
rollout_resume = _steer("resume", None, "Resume")
rollout_abort = _steer("abort", _abort_question, "Abort the rollout", danger=True)
rollout_promote = _steer("promote", _promote_question, "Promote")


@login_required
@require_POST
def rollout_rollback(request: HttpRequest, pk: int) -> HttpResponse:
    rollout = _rollout(request, pk)
    return requires("manage_rollouts", action="rollout.rollback")(_rollback)(request, rollout)


def _rollback_question(rollout: Rollout) -> str:
    failed = rollout.targets.filter(state__in=Target.FAILURES).count()
    return (
        f"Roll back the {plural(failed)} of rollout {rollout.pk} that failed? This plans a new "
        "rollout taking each back to the build it ran before (if its firmware list still has "
        "it); you start it from its page."
    )


def _rollback(request: HttpRequest, rollout: Rollout) -> HttpResponse:
    if not confirm.confirmed(request):
        return confirm.ask(request, _rollback_question(rollout), "Plan the rollback")
    outcome = rollouts.rollback_failed(request, rollout)
    outcome.flash(request)
    if outcome.ok and isinstance(outcome.answer, Rollout):
        return _back(request, outcome.answer)
    return _back(request, rollout)


# --- the team's rollouts --------------------------------------------------------------------


@login_required
@require_GET
@requires("view_devices")
def rollout_list(request: HttpRequest) -> HttpResponse:
    token = _token(request)
    found = Rollout.objects.filter(token=token) if token else Rollout.objects.none()
    page = Paginator(
        found.select_related("build").order_by("-created_at", "-pk"), ROLLOUTS_PER_PAGE
    ).get_page(request.GET.get("page"))
    counted: dict[int, dict[str, int]] = {}
    rows = Target.objects.filter(rollout__in=[r.pk for r in page]).values_list("rollout", "state")
    for rollout_id, state, n in rows.annotate(n=Count("pk")).order_by():
        counted.setdefault(rollout_id, {})[state] = n
    for rollout in page:
        mine = counted.get(rollout.pk, {})
        rollout.title = title(rollout)
        rollout.updating = sum(n for s, n in mine.items() if s not in (S.EXCLUDED, S.SKIPPED))
        rollout.healthy = mine.get(S.HEALTHY, 0)
        rollout.failed = sum(mine.get(s, 0) for s in Target.FAILURES)
    context = {
        "page": page,
        "no_token": None if token else NO_TOKEN,
        "may_plan": request.user.has_perm("portal.manage_rollouts"),
    }
    return render(request, "fleet/rollouts.html", context)
