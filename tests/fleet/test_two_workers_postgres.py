"""Two fleet workers on PostgreSQL working one 200-device job: each call is sent exactly once.

Runs when PORTAL_TEST_POSTGRES_URL is set (like tests/multi/); in CI its absence is a failure.
The job is made by `manage.py shell` on a fresh database, the two workers are real processes.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest

from emulator.server import Emulator
from tests.fleet.helpers import sends
from tests.fleet_worker import FleetWorker, worker_env
from tests.multi import deployment as dep

POSTGRES_URL = os.environ.get(dep.POSTGRES_VARIABLE, "")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TOKEN = "two-workers-token-0001"

SETUP = """
from django.contrib.auth.models import User
from fleet import jobs
from portal import services
from portal.outcomes import Actor
from portal.roles import Role
token = services.save_token("Team A", {token!r})
user = User.objects.create_user("operator", password="two-workers-password-01")
services.set_role(user, Role.OPERATOR)
services.assign_token(user, token)
uids = {uids!r}
outcome = jobs.create(Actor(user=user, ip="127.0.0.1"), token, "reboot",
                      [(uid, "Device " + uid[-4:], True) for uid in uids])
print("JOB", outcome.answer.pk)
"""


@pytest.fixture
def postgres_url():
    if not POSTGRES_URL:
        if IN_CI:
            pytest.fail(
                f"CI must run the two-worker test on PostgreSQL: set {dep.POSTGRES_VARIABLE}"
            )
        pytest.skip(f"set {dep.POSTGRES_VARIABLE} to run it")
    with dep.fresh_postgres(POSTGRES_URL) as url:
        yield url


def test_two_workers_on_postgresql_send_each_call_of_one_job_exactly_once(
    postgres_url, tmp_path, settings
):
    with Emulator(tokens=(TOKEN,), fleet_size=200, latency_ms=30) as emulator:
        uids = emulator.uids(TOKEN)
        for uid in uids:
            emulator.set_device(TOKEN, uid, status="online")
        env = worker_env(emulator.url, postgres_url, PORTAL_FLEET_MAX_IN_FLIGHT="8")
        dep.manage(env, "migrate", "--noinput")
        workers = FleetWorker(env, tmp_path)
        workers.start()
        workers.start()
        try:
            output = dep.manage(env, "shell", stdin=SETUP.format(token=TOKEN, uids=uids))
            job = int(output.split("JOB", 1)[1].split()[0])
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                sql = f"SELECT state FROM fleet_job WHERE id = {job:d}"  # noqa: S608
                (state,) = dep.query(postgres_url, sql)[0]
                if state == "done":
                    break
                time.sleep(0.5)
            else:
                raise AssertionError(f"the job did not end:\n{workers.log()}")
        finally:
            workers.stop()
        sql = f"SELECT state, claimed_by FROM fleet_jobitem WHERE job_id = {job:d}"  # noqa: S608
        items = dep.query(postgres_url, sql)
        assert Counter(state for state, _ in items) == {"sent": 200}
        assert len({claimed for _, claimed in items}) == 2, "both workers worked on the job"
        counts = sends(emulator)
        assert set(counts) == set(uids)
        assert set(counts.values()) == {1}
        rows = dep.query(
            postgres_url, "SELECT count(*) FROM portal_auditevent WHERE action = 'device.reboot'"
        )
        assert rows == [(200,)]
