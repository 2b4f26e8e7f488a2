"""What one device of a job costs the database (fleet/engine.py's per-item path): a bounded
number of queries, one audit row, the token's cached reads forgotten after each write."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from emulator.pytest_plugin import TOKEN_A
from fleet import engine
from fleet.models import JobItem
from portal.models import AuditEvent, ReadGeneration
from tests.fleet.helpers import all_online, start_job

# Per device: the claim, the pause check, and one transaction for the audit row, the
# item's record and the read generation (with their savepoints). It was about 20.
QUERIES_PER_DEVICE = 12


@pytest.fixture
def one_thread(settings):
    settings.PORTAL_FLEET_MAX_IN_FLIGHT = 1
    settings.PORTAL_CALLS_PER_MINUTE = 0
    settings.REDIS_URL = ""
    settings.PORTAL_READ_CACHE_SECONDS = 5  # the generation is bumped after each write


def queries_of(job) -> int:
    with CaptureQueriesContext(connection) as captured:
        engine.run(job.pk, fan_out=False)
    return len(captured.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_each_device_of_a_job_costs_a_bounded_number_of_queries(
    emulator, operator, token_a, one_thread
):
    uids = all_online(emulator, TOKEN_A)
    assert len(uids) >= 8
    small, big = start_job(operator, token_a, uids[:2]), start_job(operator, token_a, uids)
    per_device = (queries_of(big) - queries_of(small)) / (len(uids) - 2)
    assert per_device <= QUERIES_PER_DEVICE
    assert set(big.items.values_list("state", flat=True)) == {JobItem.State.SENT}


@pytest.mark.django_db(transaction=True)
def test_each_write_of_a_job_has_its_audit_row_and_forgets_the_cached_reads(
    emulator, operator, token_a, one_thread, monkeypatch
):
    uids = all_online(emulator, TOKEN_A)[:3]
    job = start_job(operator, token_a, uids)
    tags: list[str] = []
    original = engine.record

    def record(item, outcome):
        tags.append(ReadGeneration.objects.get(key=str(token_a.pk)).tag)
        original(item, outcome)

    monkeypatch.setattr(engine, "record", record)
    engine.run(job.pk, fan_out=False)
    assert len(set(tags)) == 3  # a new generation before each device's record
    rows = AuditEvent.objects.filter(action="device.reboot").order_by("id")
    assert [r.device_uid for r in rows] == uids
    assert {r.token_label for r in rows} == {"Team A"}
    assert {r.username for r in rows} == {"operator"}
    items = {i.device_uid: i.audit_id for i in job.items.all()}
    assert [items[r.device_uid] for r in rows] == [r.pk for r in rows]
