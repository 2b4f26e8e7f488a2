"""The worker beside the instances (compose's `worker` service): a job queued in the shared
database is done by it, and every instance's /readyz sees it alive."""

from __future__ import annotations

import json
import time

import pytest
import requests

from emulator.pytest_plugin import TOKEN_A
from tests.multi.deployment import manage

pytestmark = pytest.mark.multi

# Run with the deployment's settings and database: a reboot job over the first device of the
# team's token, as the bulk pages create it (fleet.jobs.create, one audit row).
A_JOB = """
import requests
from django.conf import settings
from django.contrib.auth.models import User
from fleet import jobs
from portal.models import ApiToken
from portal.outcomes import Actor

answer = requests.get(settings.IOT_API_BASE_URL + "/v1/user/devices",
                      headers={"Authorization": "Bearer %s"}, timeout=5).json()
device = (answer.get("data") if isinstance(answer, dict) else answer)[0]
token = ApiToken.objects.get(label="Team A")
jobs.create(Actor(user=User.objects.get(username="dave"), ip="127.0.0.1"), token, "reboot",
            [(device["uid"], device["uid"], True)], offline="try")
"""


def test_every_instance_sees_the_worker_alive_in_readyz(deployment):
    for url in deployment.urls:
        queue = requests.get(f"{url}/readyz", timeout=15).json()["queue"]
        assert queue["workers_alive"] == 1
        assert "note" not in queue


def test_a_job_queued_in_the_shared_database_is_done_by_the_worker(deployment):
    manage(deployment.env, "shell", stdin=A_JOB % TOKEN_A)
    ((job,),) = deployment.query("SELECT MAX(id) FROM fleet_job")
    deadline = time.monotonic() + 30
    while True:
        rows = deployment.query(
            "SELECT state FROM fleet_jobitem WHERE job_id = (SELECT MAX(id) FROM fleet_job)"
        )
        if rows and rows[0][0] not in ("waiting", "sending"):
            break
        assert time.monotonic() < deadline, deployment.worker_log.read_text()
        time.sleep(0.2)
    assert rows == [("sent",)]
    audit = deployment.query(
        "SELECT outcome, sent FROM portal_auditevent WHERE action = 'device.reboot'"
    )
    of_the_job = [
        outcome
        for outcome, sent in audit
        if (json.loads(sent) if isinstance(sent, str) else sent).get("job") == job
    ]
    assert of_the_job == ["ok"]  # one audit row for the one device write
    # Nothing waits in the queue any more, as every instance says.
    for url in deployment.urls:
        queue = requests.get(f"{url}/readyz", timeout=15).json()["queue"]
        assert queue["oldest_waiting_seconds"] is None
