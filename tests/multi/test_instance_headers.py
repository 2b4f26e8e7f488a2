"""What a running instance tells the world in its headers and health probes."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import requests

from tests.multi.deployment import ROOT

pytestmark = pytest.mark.multi


def test_it_names_no_server_version(deployment):
    response = requests.get(f"{deployment.instance(0)}/login/", timeout=10)
    assert not re.search(r"\d", response.headers.get("Server", ""))
    assert "X-Powered-By" not in response.headers
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_every_instance_is_healthy_and_ready_and_says_nothing_about_its_setup(deployment):
    for url in deployment.urls:
        health = requests.get(f"{url}/healthz", timeout=10)
        ready = requests.get(f"{url}/readyz", timeout=10)
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "checks": {"database": "ok"}}
        assert ready.status_code == 200
        body = ready.json()
        assert body["checks"] == {"database": "ok", "cache": "ok", "upstream": "ok"}
        assert body["upstream_ms"] >= 0
        assert "127.0.0.1" not in ready.text and "postgres" not in ready.text


def test_the_probes_answer_a_request_by_ip_address_from_any_host(deployment):
    url = deployment.instance(0)
    response = requests.get(f"{url}/healthz", headers={"Host": "10.0.0.7:8000"}, timeout=10)
    assert response.status_code == 200
    other = requests.get(f"{url}/login/", headers={"Host": "10.0.0.7:8000"}, timeout=10)
    assert other.status_code == 400


def test_the_image_healthcheck_script_passes_against_a_running_instance(deployment):
    port = deployment.instance(0).rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "bin/healthcheck.py"],
        cwd=ROOT,
        env={"PORTAL_BIND": f"0.0.0.0:{port}"},
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0
