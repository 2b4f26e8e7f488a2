"""/healthz and /readyz: cheap, no sign-in, nothing about the setup, 503 when unwell."""

from __future__ import annotations

import pytest
from django.db.utils import OperationalError

from portal import health


@pytest.fixture(autouse=True)
def _fresh_probe():
    health.forget_upstream_probe()
    yield
    health.forget_upstream_probe()


def test_healthz_says_ok_without_a_sign_in(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert "no-store" in response["Cache-Control"]


def test_readyz_checks_the_upstream_and_says_how_long_it_took(client, db, emulator):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"] == {"database": "ok", "cache": "ok", "upstream": "ok"}
    assert 0 <= body["upstream_ms"] < 5000
    probes = [e for e in emulator.request_log if e["path"] == "/v1/user/devices"]
    assert len(probes) == 1
    assert probes[0]["token_ok"] is False  # the probe carries no token


def test_readyz_is_503_when_the_upstream_is_down(client, db, settings, unused_port_url):
    settings.IOT_API_BASE_URL = unused_port_url
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["upstream"] == "unreachable"
    assert response.json()["upstream_ms"] is None


def test_readyz_is_503_when_the_upstream_fails(client, db, emulator):
    emulator.set_fault("500")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_readyz_shares_one_upstream_probe_for_a_few_seconds(client, db, emulator):
    for _ in range(5):
        assert client.get("/readyz").status_code == 200
    assert len([e for e in emulator.request_log if e["path"] == "/v1/user/devices"]) == 1


def test_healthz_is_503_when_the_database_is_unreachable(client, db, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    # The one case the emulator cannot produce: the portal's own database going away.
    with monkeypatch.context() as patch:
        patch.setattr(health.connection, "cursor", broken_cursor)
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "unreachable"}}


def test_the_probes_reveal_no_configuration(client, db, settings, emulator):
    text = client.get("/readyz").content.decode() + client.get("/healthz").content.decode()
    assert settings.IOT_API_BASE_URL not in text
    assert "127.0.0.1" not in text and "sqlite" not in text.lower()
    assert "django" not in text.lower() and "version" not in text.lower()


def test_the_probes_answer_any_host_name(client, db):
    assert client.get("/healthz", headers={"Host": "10.1.2.3:8000"}).status_code == 200
    assert client.get("/login/", headers={"Host": "10.1.2.3:8000"}).status_code == 400


def test_the_probes_answer_only_reads(client, db):
    assert client.post("/healthz").status_code == 405


def _enqueue_a_task(minutes_ago: float = 0):
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from fleet.tasks import run_job

    result = run_job.enqueue(123456)  # a job that does not exist: no worker runs it here
    if minutes_ago:
        DBTaskResult.objects.filter(id=result.id).update(
            enqueued_at=timezone.now() - timedelta(minutes=minutes_ago)
        )
    return result


def test_readyz_says_no_worker_runs_and_nothing_waits_on_an_empty_queue(client, db, emulator):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["queue"] == {
        "workers_alive": 0,
        "oldest_waiting_seconds": None,
        "note": health.NO_WORKER,
    }


def test_readyz_reports_the_oldest_waiting_task_and_stays_ready_without_a_worker(
    client, db, emulator
):
    _enqueue_a_task(minutes_ago=3)
    _enqueue_a_task()
    response = client.get("/readyz")
    assert response.status_code == 200  # no worker is not a reason to take traffic away
    body = response.json()
    assert body["status"] == "ok"
    assert 180 <= body["queue"]["oldest_waiting_seconds"] < 240
    assert body["queue"]["workers_alive"] == 0
    assert "no worker is running" in body["queue"]["note"]


def test_readyz_counts_the_live_workers_and_not_the_dead_ones(client, db, emulator, settings):
    from datetime import timedelta

    from django.utils import timezone

    from fleet.models import Worker

    settings.PORTAL_FLEET_WORKER_TIMEOUT = 30
    Worker.objects.create(id="alive-1", seen_at=timezone.now())
    Worker.objects.create(id="alive-2", seen_at=timezone.now() - timedelta(seconds=10))
    Worker.objects.create(id="dead", seen_at=timezone.now() - timedelta(seconds=31))
    queue = client.get("/readyz").json()["queue"]
    assert queue["workers_alive"] == 2
    assert "note" not in queue


def test_a_task_a_worker_took_or_finished_is_not_waiting(db):
    from django_tasks_db.models import DBTaskResult

    first = _enqueue_a_task(minutes_ago=5)
    assert health.oldest_waiting().total_seconds() >= 300
    DBTaskResult.objects.filter(id=first.id).update(status="RUNNING")
    assert health.oldest_waiting() is None
    DBTaskResult.objects.filter(id=first.id).update(status="SUCCESSFUL")
    assert health.oldest_waiting() is None


def test_the_fleet_module_reports_the_same_oldest_waiting_task_as_the_core(db):
    from fleet import health as fleet_health

    assert fleet_health.oldest_waiting is health.oldest_waiting


def test_readyz_has_no_figures_but_answers_when_the_queue_cannot_be_read(
    client, db, emulator, monkeypatch
):
    def broken():
        raise OperationalError("no such table")

    # The database failing for the queue's query alone: only a patch produces it.
    monkeypatch.setattr(health, "oldest_waiting", broken)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["queue"] == {"workers_alive": None, "oldest_waiting_seconds": None}


def test_a_task_scheduled_for_later_waits_from_its_time_not_from_when_it_was_queued(db):
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    result = _enqueue_a_task(minutes_ago=30)
    DBTaskResult.objects.filter(id=result.id).update(
        run_after=timezone.now() + timedelta(minutes=5)
    )
    assert health.oldest_waiting() is None  # not due yet: nothing waits for a worker
    DBTaskResult.objects.filter(id=result.id).update(
        run_after=timezone.now() - timedelta(minutes=2)
    )
    assert 120 <= health.oldest_waiting().total_seconds() < 180


def test_readyz_does_not_ask_the_queue_when_the_database_is_down(client, db, emulator, monkeypatch):
    asked = []
    monkeypatch.setattr(health, "_database", lambda: "unreachable")
    monkeypatch.setattr(health, "oldest_waiting", lambda: asked.append(1))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["queue"] == {"workers_alive": None, "oldest_waiting_seconds": None}
    assert asked == []
