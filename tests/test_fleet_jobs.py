"""A job's page (live rows, counts, progress, pace, filter, CSV, cancel, retry) and the team's
list of jobs (fleet/jobs_views.py)."""

from __future__ import annotations

import csv
import html
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from fleet import jobs
from fleet.jobs_views import pace
from fleet.models import Job, JobItem, Worker
from portal.models import AuditEvent
from tests.fleet_helpers import HTMX, make_job

S = JobItem.State
MIXED = [S.SENT, S.SENT, S.REFUSED, S.FAILED, S.UNKNOWN, S.SKIPPED, S.WAITING, S.WAITING]


def text(response) -> str:
    return html.unescape(response.content.decode())


def url(name: str, job: Job) -> str:
    return reverse(f"fleet:{name}", kwargs={"pk": job.pk})


@pytest.fixture
def job(token_a, operator):
    return make_job(token_a, operator, MIXED, state=Job.State.RUNNING, started_at=timezone.now())


def test_the_job_page_has_a_row_per_device_and_the_counts_per_state(as_viewer, job):
    page = text(as_viewer.get(url("job", job)))
    assert f"Job {job.pk}: Reboot" in page
    for n in range(len(MIXED)):
        assert f"Device {n}" in page and f"dev-{n}" in page.replace("<wbr>", "")
    assert "message 0" in page and "Outcome unknown" in page
    assert "6 of 8 devices done" in page
    assert 'id="count-sent">Sent <span class="count">2</span>' in page
    assert 'id="count-waiting">Waiting <span class="count">2</span>' in page


def test_the_rows_are_filtered_by_the_state_in_the_address(as_viewer, job):
    page = text(as_viewer.get(url("job", job) + "?state=sent"))
    assert "Device 0" in page and "Device 1" in page and "Device 2" not in page
    assert "Device 0" in text(as_viewer.get(url("job", job) + "?state=bogus%00"))
    empty = text(as_viewer.get(url("job", job) + "?state=cancelled"))
    assert "No devices are “Cancelled”." in empty


def test_a_running_job_polls_its_fragment_and_an_ended_one_stops(as_viewer, job):
    page = text(as_viewer.get(url("job", job)))
    assert 'hx-trigger="every 2s"' in page
    fragment = as_viewer.get(
        url("job", job) + "?state=sent", headers={**HTMX, "HX-Target": "job-live"}
    )
    body = text(fragment)
    assert body.lstrip().startswith('<section id="job-live"') and "<html" not in body
    assert f'hx-get="/fleet/jobs/{job.pk}/?state=sent"' in body
    Job.objects.filter(pk=job.pk).update(state=Job.State.DONE)
    ended = text(as_viewer.get(url("job", job), headers={**HTMX, "HX-Target": "job-live"}))
    assert "hx-trigger" not in ended and "Done" in ended


def test_waiting_work_without_a_live_worker_says_it_waits_for_one(as_viewer, job):
    assert "The work is waiting for a worker" in text(as_viewer.get(url("job", job)))
    Worker.objects.create(id="w1", host="here", pid=1)
    assert "The work is waiting for a worker" not in text(as_viewer.get(url("job", job)))
    Worker.objects.update(seen_at=timezone.now() - timedelta(minutes=5))  # a dead one
    assert "The work is waiting for a worker" in text(as_viewer.get(url("job", job)))


def test_nothing_is_said_about_workers_when_nothing_waits(as_viewer, token_a):
    ended = make_job(token_a, None, [S.SENT], state=Job.State.DONE)
    assert "waiting for a worker" not in text(as_viewer.get(url("job", ended)))


def test_the_pace_says_how_long_is_left(job):
    counts = jobs.counts(job)
    job.started_at = timezone.now() - timedelta(seconds=60)
    job.items.filter(finished_at__isnull=False).update(finished_at=timezone.now())
    # 6 done in 60 s, 2 left: 20 s.
    assert pace(job, counts) == "About 20 seconds left at the current pace."
    job.started_at = timezone.now() + timedelta(seconds=1)
    assert pace(job, counts) == "Working out the pace…"
    job.state = Job.State.DONE
    assert pace(job, counts) == ""


def test_a_job_of_another_fleet_or_no_job_at_all_is_not_found(client, users, token_b, job):
    from portal.roles import Role
    from tests.conftest import make_user

    other = make_user("bravo", Role.ADMIN, token_b)
    client.force_login(other)
    for name in ("job", "job_csv"):
        assert client.get(url(name, job)).status_code == 404
    assert client.post(url("job_cancel", job), {"confirmed": "yes"}).status_code == 404
    assert text(client.get(reverse("fleet:jobs"))).count("Job ") == 0
    client.force_login(users["viewer"])
    for pk in (0, 10**6, 2**63, 10**30):
        assert client.get(f"/fleet/jobs/{pk}/").status_code == 404


def test_the_csv_has_every_column_and_defuses_formulas(as_viewer, token_a):
    job = make_job(token_a, None, [S.SENT, S.FAILED])
    JobItem.objects.filter(job=job, position=1).update(
        device_name='=HYPERLINK("http://x")', message="+1 bad", status_code=503
    )
    response = as_viewer.get(url("job_csv", job))
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="job-{job.pk}.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "position", "device", "device name (then)", "state", "state (words)", "message",
        "upstream status", "attempts", "started (UTC)", "finished (UTC)", "audit entry",
    ]  # fmt: skip
    assert rows[1][:5] == ["0", "dev-0", "Device 0", "sent", "Sent"]
    assert rows[2][2] == '\'=HYPERLINK("http://x")' and rows[2][5] == "'+1 bad"
    assert rows[2][6] == "503" and rows[2][9].endswith("+00:00")
    only_failed = as_viewer.get(url("job_csv", job) + "?state=failed")
    assert len(list(csv.reader(io.StringIO(b"".join(only_failed.streaming_content).decode())))) == 2


def test_cancel_asks_first_then_stops_what_has_not_started(as_operator, job):
    asked = as_operator.post(url("job_cancel", job))
    assert f"Cancel job {job.pk}? The 2 devices not yet sent will not be sent anything" in text(
        asked
    )
    assert Job.objects.get(pk=job.pk).state == Job.State.RUNNING
    response = as_operator.post(url("job_cancel", job), {"confirmed": "yes"})
    assert response.status_code == 302 and response["Location"] == url("job", job)
    assert Job.objects.get(pk=job.pk).state == Job.State.CANCELLED
    assert job.items.filter(state=S.CANCELLED).count() == 2
    page = text(as_operator.get(url("job", job)))
    assert f"Job {job.pk} cancelled: 2 devices will not be sent anything." in page
    assert AuditEvent.objects.filter(action="fleet.job_cancel", outcome="ok").count() == 1
    again = as_operator.post(url("job_cancel", job), {"confirmed": "yes"}, headers=HTMX)
    assert again["HX-Redirect"] == url("job", job)
    assert AuditEvent.objects.filter(action="fleet.job_cancel", outcome="refused").count() == 1


def test_retry_resends_the_failed_and_refused_and_the_unknown_only_when_asked(as_operator, token_a):
    job = make_job(token_a, None, [S.SENT, S.REFUSED, S.FAILED, S.UNKNOWN], state=Job.State.DONE)
    page = text(as_operator.get(url("job", job)))
    assert "Retry 2 failed or refused" in page and "Retry including 1 unknown" in page
    assert "they may run it twice" in page
    asked = text(as_operator.post(url("job_retry", job), {"unknown": "yes"}))
    assert "including the 1 device whose outcome is unknown" in asked and "run it twice" in asked
    as_operator.post(url("job_retry", job), {"confirmed": "yes"})
    states = list(job.items.order_by("position").values_list("state", flat=True))
    assert states == ["sent", "waiting", "waiting", "unknown"]
    assert f"Job {job.pk}: 2 devices queued again." in text(as_operator.get(url("job", job)))
    # Still running now: a retry must wait for the end.
    as_operator.post(url("job_retry", job), {"confirmed": "yes", "unknown": "yes"})
    assert job.items.get(position=3).state == "unknown"
    job.items.filter(state="waiting").update(state="failed")
    Job.objects.filter(pk=job.pk).update(state=Job.State.DONE)
    as_operator.post(url("job_retry", job), {"confirmed": "yes", "unknown": "yes"})
    assert job.items.get(position=3).state == "waiting"
    rows = AuditEvent.objects.filter(action="fleet.job_retry").values_list("outcome", flat=True)
    assert list(rows) == ["ok", "refused", "ok"]


def test_a_viewer_sees_the_job_but_may_not_cancel_or_retry_it(as_viewer, job):
    page = text(as_viewer.get(url("job", job)))
    assert 'id="job-cancel"' not in page
    for name in ("job_cancel", "job_retry"):
        response = as_viewer.post(url(name, job), {"confirmed": "yes"})
        assert response.status_code == 403
        assert "Rebooting a device needs the operator role." in text(response)
    assert Job.objects.get(pk=job.pk).state == Job.State.RUNNING
    assert AuditEvent.objects.filter(outcome="refused").count() == 2


def test_a_wifi_reset_job_is_cancelled_only_by_a_role_that_may_reset_wifi(as_operator, token_a):
    job = make_job(token_a, None, [S.WAITING], action=Job.Action.WIFI_RESET)
    response = as_operator.post(url("job_cancel", job), {"confirmed": "yes"})
    assert response.status_code == 403 and "the maintainer role" in text(response)


def test_the_jobs_list_shows_the_teams_jobs_newest_first_with_their_counts(
    as_viewer, token_a, token_b, operator
):
    older = make_job(token_a, operator, [S.SENT, S.FAILED], state=Job.State.DONE)
    newer = make_job(token_a, operator, [S.WAITING], action=Job.Action.TAG_ADD)
    make_job(token_b, None, [S.SENT])  # another fleet's
    page = text(as_viewer.get(reverse("fleet:jobs")))
    assert "2 jobs, newest first" in page
    assert page.index(f"Job {newer.pk}<") < page.index(f"Job {older.pk}<")
    assert "1 sent" in page and "1 failed" in page and "operator" in page
    assert "Add tag" in page and "Queued" in page


def test_the_jobs_list_is_paged(as_viewer, token_a):
    for _ in range(26):
        make_job(token_a, None, [S.SENT])
    assert "Page 1 of 2" in text(as_viewer.get(reverse("fleet:jobs")))
    for junk in ("2", "99", "x", "%00", "-1"):
        assert as_viewer.get(reverse("fleet:jobs") + f"?page={junk}").status_code == 200


def test_the_jobs_list_without_jobs_says_how_to_start_one(as_viewer):
    assert "No jobs yet." in text(as_viewer.get(reverse("fleet:jobs")))


def test_a_cancelled_job_with_a_call_in_flight_polls_until_its_answer(as_viewer, token_a):
    job = make_job(token_a, None, [S.SENDING, S.CANCELLED], state=Job.State.CANCELLED)
    live = {**HTMX, "HX-Target": "job-live"}
    assert 'hx-trigger="every 2s"' in text(as_viewer.get(url("job", job), headers=live))
    job.items.filter(state=S.SENDING).update(state=S.SENT)
    assert "hx-trigger" not in text(as_viewer.get(url("job", job), headers=live))


def test_the_jobs_list_reads_the_counts_in_one_query_whatever_the_number_of_jobs(
    as_viewer, token_a, django_assert_max_num_queries
):
    for _ in range(3):
        make_job(token_a, None, [S.SENT, S.FAILED])
    as_viewer.get(reverse("fleet:jobs"))  # the session and the user, warmed up
    with django_assert_max_num_queries(8) as few:
        as_viewer.get(reverse("fleet:jobs"))
    for _ in range(20):
        make_job(token_a, None, [S.SENT, S.FAILED, S.WAITING])
    with django_assert_max_num_queries(len(few.captured_queries)):
        as_viewer.get(reverse("fleet:jobs"))


def test_a_long_job_is_shown_a_page_of_rows_at_a_time(as_viewer, token_a):
    job = make_job(token_a, None, [S.SENT] * 150)
    page = text(as_viewer.get(url("job", job)))
    assert "Page 1 of 2" in page and "Device 99<" in page and "Device 100<" not in page
    assert "Device 149<" in text(as_viewer.get(url("job", job) + "?page=2"))


def test_a_job_paused_by_the_rate_limit_says_until_when(as_viewer, token_a):
    job = make_job(
        token_a, None, [S.WAITING], state=Job.State.RUNNING,
        paused_until=timezone.now() + timedelta(seconds=30),
    )  # fmt: skip
    assert "Paused: the device service asked the portal to slow down." in text(
        as_viewer.get(url("job", job))
    )


def test_a_job_whose_devices_all_looked_offline_ends_at_once_and_says_what_was_skipped(
    token_a, operator
):
    from portal.outcomes import Actor

    devices = [("espressif32_aa", "Kitchen Relay", False), ("espressif32_bb", "Porch", False)]
    outcome = jobs.create(Actor(user=operator), token_a, Job.Action.REBOOT, devices)
    job = outcome.answer
    job.refresh_from_db()
    assert job.state == Job.State.DONE and job.finished_at is not None
    assert (
        outcome.message
        == f"Reboot queued for 0 devices (job {job.pk}). 2 devices that looked offline skipped."
    )
    row = AuditEvent.objects.get(action="fleet.job_create")
    assert row.sent["queued"] == 0 and row.sent["skipped"] == 2
