"""Hostile input at the rollout pages (fleet/rollout_views.py): every field of the plan form
(the build, the source and its tag or search, the waves, the health rules, the schedule),
the rollout page's state filter and page, the ids in the address, and the steering forms
(start, approve, pause, resume, abort, promote, roll back). No worker runs here, so a rollout
that starts sends nothing upstream: what is checked is that the portal answers (never a 500,
a traceback or a token), calls the upstream only on its documented reads, and records each
attempt once."""

from __future__ import annotations

import pytest

from emulator.pytest_plugin import TOKEN_A
from tests import firmware_samples as samples
from tests.hostile.corpus import NUMBER_WORDS, NUMBERS, pick, query_values, texts
from tests.hostile.harness import Case, query
from tests.hostile.test_fleet_forms import select

pytestmark = pytest.mark.multi

NEW = "/fleet/rollouts/new/"
NUMBER_FIELDS = [
    "canary", "pass_percent", "soak_minutes", "max_failures", "max_failure_percent",
    "offline_wait_minutes", "follow_timeout_minutes", "window_start_hour", "window_end_hour",
]  # fmt: skip
TEXT_FIELDS = [
    "build", "source", "tag", "search", "percents", "promote", "start_at", "window_days",
    "window_tz", *NUMBER_FIELDS,
]  # fmt: skip
STEERING = ["start", "approve", "pause", "resume", "promote", "rollback", "abort"]


def run_counting_rows(batch, cases: list[Case]) -> None:
    """Run the cases; each may leave at most one row of the rollouts' own writes."""
    too_many = []
    for case in cases:
        last = batch.portal.last_audit_id()
        batch.run_one(case)
        rows = [a for _, a, _ in batch.portal.audit_since(last) if a.startswith("rollout.")]
        if len(rows) > 1:
            too_many.append(f"{case.group} [{case.label}]: {rows}")
    assert too_many == []


@pytest.fixture
def build(batch) -> int:
    """An ESP8266 build of the team's library, added through the portal; its id."""
    files = {
        "name": (None, b"Hostile rollout"),
        "file": ("rollout.bin", samples.esp8266_image(5000, "rollout base")),
    }
    batch.run_one(Case("rollout setup", "a build", "POST", "/fleet/library/upload/", files=files))
    (pk,) = batch.portal.query("SELECT MAX(id) FROM fleet_build")[0]
    assert pk, "the setup build was added"
    return pk


@pytest.fixture
def selected(batch, emulator_server) -> list[str]:
    uids = emulator_server.uids(TOKEN_A)[:3]
    select(batch.portal, "admin", uids)
    return uids


def good(build: int) -> dict[str, str]:
    return {
        "build": str(build), "source": "selection", "tag": "", "search": "", "canary": "1",
        "percents": "50, 100", "promote": "auto", "pass_percent": "100", "soak_minutes": "5",
        "offline_wait_minutes": "60", "follow_timeout_minutes": "15", "window_tz": "UTC",
    }  # fmt: skip


def test_rollout_plan_form_fields(batch, build, selected):
    cases = []
    for n, (label, value) in enumerate(texts(huge=True)):
        for field in pick(TEXT_FIELDS, n, 3):
            form = {**good(build), field: value}
            if field in ("tag", "search"):
                form["source"] = field
            cases.append(Case(f"rollout {field}", label, "POST", NEW, form=form, htmx=n % 3 == 0))
    run_counting_rows(batch, cases)
    batch.assert_clean()


def test_rollout_plan_numbers_choices_and_repeats(batch, build, selected):
    words = [*NUMBER_WORDS, *(value for _, value in NUMBERS)]
    cases = []
    for n, word in enumerate(words):
        for field in pick(NUMBER_FIELDS, n, 3):
            form = {**good(build), field: word}
            cases.append(Case(f"rollout {field}", repr(word)[:40], "POST", NEW, form=form))
        percents = {**good(build), "percents": f"{word}, 100"}
        cases.append(Case("rollout percents number", repr(word)[:40], "POST", NEW, form=percents))
    for n, choice in enumerate(["selection", "tag", "search", "SEARCH", "", "tag\x00", "all"]):
        form = {**good(build), "source": choice, "tag": "Nowhere", "search": "q=zzz-none"}
        cases.append(Case("rollout source", repr(choice), "POST", NEW, form=form, htmx=n % 2))
    for tz in ["Europe/Berlin", "../../etc/passwd", "UTC\x00", "Etc/GMT+99", "", "A" * 65]:
        form = {**good(build), "window_tz": tz, "start_at": "2031-01-01T00:00"}
        cases.append(Case("rollout time zone", repr(tz)[:40], "POST", NEW, form=form))
    for stamp in ["2031-13-01T00:00", "0000-01-01T00:00", "9999-12-31T23:59", "now", "1e9"]:
        form = {**good(build), "start_at": stamp, "window_tz": "Pacific/Kiritimati"}
        cases.append(Case("rollout start at", stamp, "POST", NEW, form=form))
    pairs = [*good(build).items(), ("window_days", "0"), ("window_days", "0"), ("window_days", "9")]
    cases.append(Case("rollout repeated field", "days twice and a ninth", "POST", NEW, form=pairs))
    twice = [*good(build).items(), ("build", str(build + 1000))]
    cases.append(Case("rollout repeated field", "build twice", "POST", NEW, form=twice))
    run_counting_rows(batch, cases)
    batch.assert_clean()


def _a_draft(batch, build: int) -> int:
    result = batch.run_one(Case("rollout", "a draft to attack", "POST", NEW, form=good(build)))
    assert result.status == 302, result.body[:500]
    return int(result.redirect.rstrip("/").rsplit("/", 1)[1])


def test_rollout_pages_query_strings_ids_and_steering(batch, build, selected):
    rollout = _a_draft(batch, build)
    cases = []
    for n, (label, value) in enumerate(query_values()):
        for page in ("", "csv", "visits/"):
            pairs = [("state", value), ("page", value)] if n % 2 else [(value or "x", value)]
            if page == "visits/" and n % 3 == 0:
                pairs.append(("format", value))
            headers = {"HX-Target": "rollout-live"} if n % 3 == 0 and not page else {}
            path = f"/fleet/rollouts/{rollout}/{page}" + query(pairs)
            cases.append(
                Case(f"rollout {page or 'page'} query", label, "GET", path, read_only=True,
                     htmx=bool(headers), headers=headers)
            )  # fmt: skip
        cases.append(
            Case("rollouts list query", label, "GET", "/fleet/rollouts/" + query([("page", value)]),
                 read_only=True)
        )  # fmt: skip
        new = NEW + query([("build", value), ("source", value), ("tag", value), ("search", value)])
        cases.append(Case("rollout new query", label, "GET", new, read_only=True))
        for action in pick(STEERING, n, 2):
            form = {"confirmed": value, "reason": value}
            path = f"/fleet/rollouts/{rollout}/{action}/"
            cases.append(
                Case(f"rollout {action} field", label, "POST", path, form=form, htmx=n % 2)
            )
    for label, number in [*NUMBERS, ("2^63", str(2**63)), ("negative", "-1")]:
        for page in ("", "csv", "visits/", *(f"{a}/" for a in STEERING)):
            method = "POST" if page.rstrip("/") in STEERING else "GET"
            form = {"confirmed": "yes"} if method == "POST" else None
            path = f"/fleet/rollouts/{number}/{page}"
            cases.append(
                Case(f"rollout id {page or 'page'}", label, method, path, form=form,
                     read_only=method == "GET")
            )  # fmt: skip
    run_counting_rows(batch, cases)
    # Then the draft is steered for real, each step once, and attacked again in each state.
    steps = []
    for action in ["start", "pause", "resume", "promote", "rollback", "abort", "start"]:
        path = f"/fleet/rollouts/{rollout}/{action}/"
        steps.append(
            Case(f"rollout {action}", "confirmed", "POST", path, form={"confirmed": "yes"})
        )
        steps.append(
            Case("rollout page after", action, "GET", f"/fleet/rollouts/{rollout}/", read_only=True)
        )
    run_counting_rows(batch, steps)
    batch.assert_clean()


def test_a_viewer_and_an_operator_are_refused_each_rollout_write_once(batch, build, selected):
    rollout = _a_draft(batch, build)
    cases = [
        Case(f"{role} rollout plan", role, "POST", NEW, role=role, form=good(build), refused=True)
        for role in ("viewer", "operator")
    ]
    cases += [
        Case(f"{role} rollout", action, "POST", f"/fleet/rollouts/{rollout}/{action}/", role=role,
             form={"confirmed": "yes"}, refused=True)
        for role in ("viewer", "operator")
        for action in STEERING
    ]  # fmt: skip
    batch.run(cases)
    batch.assert_clean()
