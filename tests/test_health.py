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
