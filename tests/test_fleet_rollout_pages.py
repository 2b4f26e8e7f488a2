"""The rollout pages (fleet/rollout_views.py): planning one from the selection, a tag or a
search of the table, its draft as the preview (left out for the chip, already running it),
starting, approving, pausing, resuming, aborting, promoting, rolling back the failed
devices, the live page (waves, counts, each device's timeline), its CSV report, the "needs a
visit" list, and the team's list."""

from __future__ import annotations

import csv
import html
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from emulator.pytest_plugin import TOKEN_A, TOKEN_B
from fleet import rollouts, tags
from fleet.models import Build, BuildFile, Rollout, Step, Target, Wave
from fleet.rollout_views import duration, timeline
from fleet.sources import query_of
from portal import services
from portal.models import AuditEvent
from portal.roles import Role
from tests.conftest import make_user
from tests.fleet_helpers import HTMX, select

S = Target.State
NEW = "/fleet/rollouts/new/"
ESP8266S = [
    "Front Porch Light",
    "Attic Fan Controller",
    "Workshop Dust Collector",
    "Aquarium Heater",
]


def text(response) -> str:
    return html.unescape(response.content.decode())


def url(name: str, rollout: Rollout) -> str:
    return reverse(f"fleet:{name}", kwargs={"pk": rollout.pk})


def a_build(token, md5="a" * 32, chip="ESP8266", name="Relay firmware") -> Build:
    build = Build.objects.create(
        token=token, name=name, version="2.0", md5=md5, size=3, kind="esp8266", chip=chip
    )
    BuildFile.objects.create(build=build, content=b"abc")
    return build


@pytest.fixture
def build(token_a):
    return a_build(token_a)


def form(build, **more):
    return {
        "build": str(build.pk), "source": "tag", "tag": "Rollout", "canary": "1",
        "percents": "50, 100", "promote": "auto", "pass_percent": "100", "soak_minutes": "5",
        "max_failures": "", "max_failure_percent": "", "offline_wait_minutes": "60",
        "follow_timeout_minutes": "15", "window_tz": "UTC", **more,
    }  # fmt: skip


def read(rollout: Rollout) -> Rollout:
    """What the worker does while a rollout is planned: read each device, make the draft."""
    client = rollouts.client_of(rollout.token)
    for row in rollout.targets.filter(state=S.CHECKING):
        rollouts.check(client, rollout, row)
    assert rollouts.finish_planning(rollout)
    rollout.refresh_from_db()
    return rollout


def tag(token, emulator, names, name="Rollout"):
    uids = [emulator.device_uid(TOKEN_A, n) for n in names]
    for uid in uids:
        tags.apply_add(token, uid, name)
    return uids


def test_the_new_rollout_page_offers_the_library_builds_and_the_fleet_tags(
    as_maintainer, build, token_a, emulator
):
    tag(token_a, emulator, ["Garage Door"], "North bench")
    page = text(as_maintainer.get(NEW))
    assert "Plan a rollout" in page and "Relay firmware 2.0" in page
    assert '<option value="North bench">' in page
    assert "Preview the rollout" in page and 'name="form_key"' in page


def test_planning_on_a_tag_makes_a_draft_that_previews_the_waves_and_the_left_out(
    as_maintainer, maintainer, build, token_a, emulator
):
    tag(token_a, emulator, [*ESP8266S, "Bedroom Air Quality"])
    response = as_maintainer.post(NEW, form(build))
    rollout = Rollout.objects.get()
    assert response.status_code == 302 and response["Location"] == url("rollout", rollout)
    assert rollout.state == Rollout.State.PLANNING and rollout.created_by == maintainer
    reading = text(as_maintainer.get(url("rollout", rollout)))
    assert "Reading each device's detail: <strong>0 of 5</strong> checked." in reading
    assert 'hx-trigger="every 2s"' in reading and 'id="rollout-start"' not in reading
    assert "The rollout is waiting for a worker: none is running, so no device is being read" in (
        reading
    )
    read(rollout)
    assert rollout.state == Rollout.State.DRAFT
    page = text(as_maintainer.get(url("rollout", rollout)))
    assert "Preview" in page and "4 devices</strong> to update in 3 waves" in page
    assert "Bedroom Air Quality" in page and "The build is for ESP8266" in page
    assert "Start the rollout" in page and "hx-trigger" not in page  # a draft does not poll
    planned = AuditEvent.objects.filter(action="rollout.plan")
    assert [e.outcome for e in planned] == ["ok"]


def test_planning_on_the_selection_takes_the_selected_devices_of_the_fleet(
    as_maintainer, client, build, token_a, emulator
):
    uids = [emulator.device_uid(TOKEN_A, n) for n in ESP8266S[:2]]
    select(client, token_a, [*uids, "esp8266_notinthefleet"])
    assert "(3 selected now)" in text(as_maintainer.get(NEW))
    response = as_maintainer.post(
        NEW, form(build, source="selection", canary="0", percents="100"), follow=True
    )
    assert "Chosen: the devices selected in the table (1 device no longer in the fleet left" in (
        text(response)
    )
    rollout = Rollout.objects.get()
    assert sorted(rollout.targets.values_list("device_uid", flat=True)) == sorted(uids)


def test_planning_on_a_search_takes_every_device_the_table_finds(
    as_maintainer, build, token_a, emulator
):
    search = "/devices/?q=light&page=2"
    as_maintainer.post(NEW, form(build, source="search", search=search, tag=""))
    rollout = Rollout.objects.get()
    names = set(rollout.targets.values_list("device_name", flat=True))
    assert "Front Porch Light" in names and all("light" in n.lower() for n in names)


def test_the_search_is_the_tables_query_string_wherever_it_was_pasted_from():
    assert query_of("http://portal.example/devices/?q=pump&page=3").dict() == {"q": "pump"}
    assert query_of("q=pump&online=no").dict() == {"q": "pump", "online": "no"}
    assert query_of("/devices/").dict() == {}


def test_a_plan_with_wrong_fields_says_so_beside_them_and_records_one_refusal(
    as_maintainer, build, token_a, emulator
):
    tag(token_a, emulator, ESP8266S)
    bad = form(build, percents="50, 20", tag="", window_start_hour="22", window_tz="Mars/Base")
    page = text(as_maintainer.post(NEW, bad))
    assert "Give the tag whose devices to update." in page
    assert "Each wave must bring the share done higher" in page
    assert "Give both hours of the window, or neither." in page
    assert "Give a time zone such as Europe/Berlin or UTC." in page
    assert Rollout.objects.count() == 0
    assert list(AuditEvent.objects.values_list("action", "outcome")) == [
        ("rollout.plan", "refused")
    ]


def test_a_tag_no_device_has_plans_nothing_and_says_why(as_maintainer, build, emulator):
    page = text(as_maintainer.post(NEW, form(build, tag="Nowhere")))
    assert "No device of this fleet has the tag “Nowhere”." in page
    assert Rollout.objects.count() == 0
    assert AuditEvent.objects.get().outcome == "refused"


def test_another_fleets_build_cannot_be_chosen(as_maintainer, token_a, emulator):
    other = a_build(services.save_token("Team B", TOKEN_B), md5="b" * 32)
    a_build(token_a)
    tag(token_a, emulator, ESP8266S)
    page = text(as_maintainer.post(NEW, form(other)))
    assert "Choose a build from your fleet's library." in page
    assert Rollout.objects.count() == 0


def test_the_library_without_builds_points_to_it(as_maintainer):
    page = text(as_maintainer.get(NEW))
    assert "The library has no build yet." in page and 'id="rollout-form"' not in page


def test_a_start_time_is_read_in_the_windows_time_zone(as_maintainer, build, token_a, emulator):
    tag(token_a, emulator, ESP8266S[:1])
    more = {"start_at": "2031-06-01T22:00", "window_tz": "Europe/Berlin", "window_days": ["0", "5"],
            "window_start_hour": "22", "window_end_hour": "5"}  # fmt: skip
    as_maintainer.post(NEW, form(build, **more))
    rollout = Rollout.objects.get()
    assert rollout.start_at.isoformat() == "2031-06-01T20:00:00+00:00"
    assert rollout.window_days == [0, 5] and rollout.window_tz == "Europe/Berlin"
    page = text(as_maintainer.get(url("rollout", rollout)))
    assert (
        "not before 2031-06-01 22:00, only on Mon, Sat, from 22:00 to 05:00 (Europe/Berlin)" in page
    )


# --- a rollout made directly -------------------------------------------------------------------


def make_rollout(token, user=None, states=(), state=Rollout.State.RUNNING, build=None, **fields):
    """A rollout of `token` with a canary wave (the first target) and one wave of the rest, one
    target per state in `states` (device uid "dev-<n>")."""
    build = build or Build.objects.filter(token=token).first() or a_build(token)
    rollout = Rollout.objects.create(
        token=token, build=build, state=state, canary=1, percents=[100], created_by=user,
        created_by_name=user.get_username() if user else "", started_at=timezone.now(), **fields,
    )  # fmt: skip
    canary = Wave.objects.create(rollout=rollout, number=0, percent=None, size=1)
    rest = Wave.objects.create(rollout=rollout, number=1, percent=100, size=len(states) - 1)
    for n, target_state in enumerate(states):
        Target.objects.create(
            rollout=rollout, wave=canary if n == 0 else rest, position=n, device_uid=f"dev-{n}",
            device_name=f"Device {n}", state=target_state, target_md5=build.md5,
            previous_md5="c" * 32, previous_version="1.0", last_ip="10.0.0.7", last_rssi=-71,
            description=f"Shed {n}",
        )  # fmt: skip
    return rollout


def steps(target, *rows):
    at = timezone.now() - timedelta(minutes=10)
    for n, (kind, outcome, message) in enumerate(rows):
        Step.objects.create(
            target=target, kind=kind, outcome=outcome, message=message,
            at=at + timedelta(seconds=n),
        )  # fmt: skip


@pytest.fixture
def running(token_a, maintainer, build):
    rollout = make_rollout(
        token_a, maintainer, [S.HEALTHY, S.FOLLOWING, S.FAILED, S.NEEDS_VISIT, S.WAITING]
    )
    rollout.waves.filter(number=0).update(state=Wave.State.PASSED)
    rollout.waves.filter(number=1).update(state=Wave.State.RUNNING)
    return rollout


def test_the_rollout_page_shows_waves_counts_and_each_devices_timeline(as_viewer, running):
    first = running.targets.get(position=0)
    K, R = Step.Kind, Step.Outcome
    steps(
        first,
        (K.UPLOAD, R.OK, "Firmware uploaded."),
        (K.SET_TARGET, R.OK, "Target set."),
        (K.TRIGGER, R.OK, "OTA started."),
        (K.POLL, R.OK, "Still on 1.0"),
        (K.POLL, R.OK, "Still on 1.0"),
        (K.POLL, R.OK, "Runs the target."),
    )
    page = text(as_viewer.get(url("rollout", running)))
    assert f"Rollout {running.pk}: “Relay firmware” 2.0" in page
    assert 'id="wave-0" data-state="passed"' in page and 'id="wave-1" data-state="running"' in page
    assert "3 of 5 devices done" in page
    assert "Firmware uploaded." in page and "Follow ×2" in page and "Runs the target." in page
    assert '<span class="step-kind">Upload</span> <span class="step-outcome">OK</span>' in page
    assert '<span class="step-kind">Follow ×2</span>: <span class="step-message">' in page
    assert 'id="count-healthy">Healthy <span class="count">1</span>' in page
    assert 'hx-trigger="every 2s"' in page
    assert 'id="rollout-pause"' not in page and 'id="rollout-abort"' not in page  # a viewer reads


def test_the_live_fragment_is_the_partial_and_stops_polling_once_ended(as_viewer, running):
    fragment = text(
        as_viewer.get(url("rollout", running), headers={**HTMX, "HX-Target": "rollout-live"})
    )
    assert fragment.lstrip().startswith('<section id="rollout-live"') and "<html" not in fragment
    running.targets.filter(state=S.FOLLOWING).update(state=S.HEALTHY)
    Rollout.objects.filter(pk=running.pk).update(state=Rollout.State.DONE)
    ended = text(
        as_viewer.get(url("rollout", running), headers={**HTMX, "HX-Target": "rollout-live"})
    )
    assert "hx-trigger" not in ended and "Done" in ended


def test_an_aborted_rollout_keeps_polling_while_a_device_is_still_followed(as_viewer, running):
    Rollout.objects.filter(pk=running.pk).update(state=Rollout.State.ABORTED)
    assert 'hx-trigger="every 2s"' in text(as_viewer.get(url("rollout", running)))


def test_the_rows_are_filtered_by_state(as_viewer, running):
    page = text(as_viewer.get(url("rollout", running) + "?state=failed"))
    assert "Device 2" in page and "Device 0" not in page
    assert "Device 0" in text(as_viewer.get(url("rollout", running) + "?state=bogus%00"))


def test_a_maintainer_pauses_and_resumes_with_one_audit_row_each(as_maintainer, running):
    page = text(as_maintainer.get(url("rollout", running)))
    assert 'id="rollout-pause"' in page and 'id="rollout-abort"' in page
    assert as_maintainer.post(url("rollout_pause", running)).status_code == 302
    running.refresh_from_db()
    assert running.state == Rollout.State.PAUSED
    assert "Paused by a maintainer." in text(as_maintainer.get(url("rollout", running)))
    response = as_maintainer.post(url("rollout_resume", running), headers=HTMX)
    assert response["HX-Redirect"] == url("rollout", running)
    running.refresh_from_db()
    assert running.state == Rollout.State.RUNNING
    rows = AuditEvent.objects.filter(action__startswith="rollout.")
    assert list(rows.order_by("id").values_list("action", "outcome")) == [
        ("rollout.pause", "ok"), ("rollout.resume", "ok"),
    ]  # fmt: skip


def test_abort_asks_first_without_javascript_and_then_aborts(as_maintainer, running):
    asked = text(as_maintainer.post(url("rollout_abort", running)))
    assert "Abort rollout" in asked and 'name="confirmed"' not in asked.split("<form")[0]
    running.refresh_from_db()
    assert running.state == Rollout.State.RUNNING and not AuditEvent.objects.exists()
    as_maintainer.post(url("rollout_abort", running), {"confirmed": "yes"})
    running.refresh_from_db()
    assert running.state == Rollout.State.ABORTED
    assert running.targets.get(position=4).state == S.CANCELLED


def test_starting_a_draft_asks_then_starts_it(as_maintainer, token_a, maintainer, build):
    draft = make_rollout(token_a, maintainer, [S.WAITING, S.WAITING], state=Rollout.State.DRAFT)
    page = text(as_maintainer.get(url("rollout", draft)))
    assert "Start rollout" in page and "Discard the draft" in page
    assert "Start rollout" in text(as_maintainer.post(url("rollout_start", draft)))
    as_maintainer.post(url("rollout_start", draft), {"confirmed": "yes"})
    draft.refresh_from_db()
    assert draft.state == Rollout.State.RUNNING
    assert AuditEvent.objects.get(action="rollout.start").outcome == "ok"


def test_a_rollout_above_the_limit_waits_for_a_second_maintainer(
    as_maintainer, client, token_a, maintainer, build, settings
):
    settings.PORTAL_ROLLOUT_APPROVAL_ABOVE = 1
    draft = make_rollout(
        token_a, maintainer, [S.WAITING, S.WAITING], state=Rollout.State.DRAFT, needs_approval=True
    )
    preview = text(as_maintainer.get(url("rollout", draft)))
    assert "This rollout updates more than 1 device: once started, it waits for a second" in preview
    as_maintainer.post(url("rollout_start", draft), {"confirmed": "yes"})
    draft.refresh_from_db()
    assert draft.state == Rollout.State.AWAITING_APPROVAL
    own = text(as_maintainer.get(url("rollout", draft)))
    assert "Waiting for a second maintainer's approval." in own
    assert "you planned it" in own and 'id="rollout-approve"' not in own
    other = make_user("second", Role.MAINTAINER, token_a)
    client.force_login(other)
    assert 'id="rollout-approve"' in text(client.get(url("rollout", draft)))
    client.post(url("rollout_approve", draft), {"confirmed": "yes"})
    draft.refresh_from_db()
    assert draft.state == Rollout.State.RUNNING and draft.approved_by == other
    assert "second" in text(client.get(url("rollout", draft)))


def test_promote_is_offered_when_the_current_wave_passed_in_a_manual_rollout(
    as_maintainer, token_a, maintainer, build
):
    rollout = make_rollout(token_a, maintainer, [S.HEALTHY, S.WAITING], promote="manual")
    rollout.waves.filter(number=0).update(state=Wave.State.PASSED)
    page = text(as_maintainer.get(url("rollout", rollout)))
    assert "Promote to wave 1 (100 %)" in page
    as_maintainer.post(url("rollout_promote", rollout), {"confirmed": "yes"})
    wave = rollout.waves.get(number=1)
    assert wave.state == Wave.State.RUNNING and wave.promoted_by_name == "maintainer"
    assert 'id="rollout-promote"' not in text(as_maintainer.get(url("rollout", rollout)))


def test_rolling_back_the_failed_devices_plans_a_new_rollout_and_goes_to_it(
    as_maintainer, token_a, maintainer, emulator
):
    uid = emulator.device_uid(TOKEN_A, "Greenhouse Sensor")
    md5 = emulator.state.list_firmwares(TOKEN_A, uid)[-1]["md5"]  # its oldest build
    rollout = make_rollout(token_a, maintainer, [S.HEALTHY, S.FAILED])
    Target.objects.filter(rollout=rollout, position=1).update(device_uid=uid, previous_md5=md5)
    page = text(as_maintainer.get(url("rollout", rollout)))
    assert "Roll back the failed devices (1)" in page
    response = as_maintainer.post(url("rollout_rollback", rollout), {"confirmed": "yes"})
    back = Rollout.objects.get(rollback_of=rollout)
    assert response["Location"] == url("rollout", back)
    assert back.state == Rollout.State.PLANNING and back.targets.get().target_md5 == md5
    assert AuditEvent.objects.get(action="rollout.rollback").outcome == "ok"
    assert f'id="rollback-of">Rollout {rollout.pk}</a>' in text(
        as_maintainer.get(url("rollout", back))
    )
    assert f"rollout {back.pk}" in text(as_maintainer.get(url("rollout", rollout)))


def test_the_csv_report_has_every_device_and_defuses_formulas(as_viewer, running):
    Target.objects.filter(position=2).update(description='=HYPERLINK("x")', why="-1+1")
    response = as_viewer.get(url("rollout_csv", running))
    assert response["Content-Disposition"] == f'attachment; filename="rollout-{running.pk}.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "device_uid" and len(rows) == 6
    failed = next(row for row in rows if row[0] == "dev-2")
    assert '\'=HYPERLINK("x")' in failed and "'-1+1" in failed


def test_the_needs_a_visit_list_is_printable_and_exportable(as_viewer, running):
    page = text(as_viewer.get(url("rollout", running)))
    assert "1 device needs a visit" in page
    visits = text(as_viewer.get(url("rollout_visits", running)))
    assert "Device 3" in visits and "10.0.0.7" in visits and "-71 dBm" in visits
    assert "Shed 3" in visits and "Device 2" not in visits
    response = as_viewer.get(url("rollout_visits", running) + "?format=csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1][:4] == ["dev-3", "Device 3", "10.0.0.7", "-71"]
    assert "needs-a-visit.csv" in response["Content-Disposition"]


def test_the_team_list_shows_its_rollouts_newest_first_and_no_other_fleets(
    as_viewer, token_a, running
):
    older = make_rollout(token_a, None, [S.HEALTHY], state=Rollout.State.DONE)
    Rollout.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=1))
    other_token = services.save_token("Team B", TOKEN_B)
    other = make_rollout(other_token, None, [S.HEALTHY], build=a_build(other_token, "d" * 32))
    page = text(as_viewer.get(reverse("fleet:rollouts")))
    assert page.index(f"Rollout {running.pk}:") < page.index(f"Rollout {older.pk}:")
    assert f"Rollout {other.pk}:" not in page
    assert "Plan a rollout" not in page  # a viewer does not plan
    assert as_viewer.get(url("rollout", other)).status_code == 404
    assert as_viewer.get(url("rollout_csv", other)).status_code == 404


def test_durations_are_said_in_words():
    assert duration(0) == "0 seconds" and duration(90) == "90 seconds"
    assert duration(300) == "5 minutes" and duration(5400) == "1 hour 30 minutes"
    assert duration(7200) == "2 hours"


def test_a_run_of_identical_follow_reads_is_one_line():
    K, R = Step.Kind, Step.Outcome
    at = timezone.now()
    rows = [Step(kind=K.POLL, outcome=R.OK, message="m", at=at) for _ in range(3)]
    rows.append(Step(kind=K.POLL, outcome=R.OK, message="other", at=at))
    lines = timeline(rows)
    assert [(line["times"], line["message"]) for line in lines] == [(3, "m"), (1, "other")]


def test_a_build_page_links_to_a_rollout_of_it_for_maintainers_only(
    as_maintainer, client, viewer, build
):
    page = text(as_maintainer.get(reverse("fleet:library_build", args=[build.pk])))
    assert f'href="/fleet/rollouts/new/?build={build.pk}"' in page
    chosen = text(as_maintainer.get(f"{NEW}?build={build.pk}&source=tag&tag=North"))
    assert f'<option value="{build.pk}" selected>' in chosen and 'value="North"' in chosen
    client.force_login(viewer)
    assert "Roll out this build" not in text(
        client.get(reverse("fleet:library_build", args=[build.pk]))
    )


def test_the_selection_bar_offers_a_rollout_of_the_selection_to_maintainers(
    as_maintainer, client, token_a, emulator, build
):
    select(client, token_a, [emulator.device_uid(TOKEN_A, "Garage Door")])
    page = text(as_maintainer.get(reverse("devices:list")))
    assert 'href="/fleet/rollouts/new/?source=selection" id="selection-rollout"' in page
    chosen = text(as_maintainer.get(f"{NEW}?source=search&search=q%3Dpump"))
    assert (
        'value="search" id="id_source_2" required checked' in chosen and 'value="q=pump"' in chosen
    )


def test_a_steering_form_sent_twice_acts_once(as_maintainer, running):
    from portal import form_keys

    key = form_keys.new()
    as_maintainer.post(url("rollout_pause", running), {"form_key": key})
    again = as_maintainer.post(url("rollout_pause", running), {"form_key": key}, follow=True)
    assert "Already sent" in text(again)
    rows = AuditEvent.objects.filter(action="rollout.pause").order_by("id")
    assert [(r.outcome, r.message == form_keys.ALREADY_SENT) for r in rows] == [
        ("ok", False), ("refused", True),
    ]  # fmt: skip


def test_a_scheduled_rollout_says_when_it_starts_and_a_running_one_without_worker_says_so(
    as_viewer, token_a, maintainer, build
):
    from fleet.models import Worker

    later = timezone.now() + timedelta(days=2)
    scheduled = make_rollout(
        token_a, maintainer, [S.WAITING], state=Rollout.State.SCHEDULED, start_at=later
    )
    page = text(as_viewer.get(url("rollout", scheduled)))
    assert "Scheduled: it starts at" in page and f"{later:%Y-%m-%d %H:%M} UTC</time>" in page
    assert "waiting for a worker" not in page  # nothing is due yet
    running = make_rollout(token_a, maintainer, [S.WAITING])
    assert "The rollout is waiting for a worker" in text(as_viewer.get(url("rollout", running)))
    Worker.objects.create(id="w1", host="here", pid=1)
    assert "waiting for a worker" not in text(as_viewer.get(url("rollout", running)))


def test_a_maintainer_without_a_token_is_told_and_nothing_is_planned(client, build):
    lone = make_user("lone", Role.MAINTAINER)
    client.force_login(lone)
    assert "No API token is mapped to your account" in text(client.get(NEW))
    assert "No API token is mapped" in text(client.post(NEW, form(build)))
    assert Rollout.objects.count() == 0
    assert AuditEvent.objects.get(action="rollout.plan").outcome == "refused"
    assert "No API token is mapped" in text(client.get(reverse("fleet:rollouts")))


def test_a_long_timeline_keeps_every_write_and_the_last_reads():
    K, R = Step.Kind, Step.Outcome
    at = timezone.now()
    rows = [
        Step(kind=k, outcome=R.OK, message=k, at=at) for k in (K.UPLOAD, K.SET_TARGET, K.TRIGGER)
    ]
    rows += [Step(kind=K.POLL, outcome=R.OK, message=f"read {n}", at=at) for n in range(30)]
    lines = timeline(rows)
    assert len(lines) == 12
    assert [line["kind"] for line in lines[:4]] == [K.UPLOAD, K.SET_TARGET, K.TRIGGER, "earlier"]
    assert lines[3]["times"] == 22 and lines[-1]["message"] == "read 29"
