"""Production settings pass Django's deployment checks and send the security headers.

Each case starts a fresh interpreter with the environment an operator would set (debug off,
real keys), because settings are read once, at import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK_DEPLOY = ["manage.py", "check", "--deploy", "--fail-level", "WARNING"]

PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "a-production-like-secret-key-with-enough-length-and-variety-9f3k",
    "PORTAL_TOKEN_KEYS": "cHJvZHVjdGlvbi1saWtlLXRva2VuLWtleS0wMDAwMDA=",
    "DJANGO_ALLOWED_HOSTS": "portal.example.com,testserver",
}

PROBE = textwrap.dedent(
    """
    import json
    import django
    django.setup()
    from django.conf import settings
    from django.test import Client
    from django.test.utils import override_settings

    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}):
        secure = Client(headers={"X-Forwarded-Proto": "https"}).get("/login/")
        plain_http = Client().get("/login/")
    print(json.dumps({
        "status": secure.status_code,
        "headers": dict(secure.headers),
        "csrf_cookie": {k: secure.cookies["csrftoken"][k] for k in ("secure", "samesite")},
        "http_status": plain_http.status_code,
        "http_location": plain_http.headers.get("Location", ""),
        "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
        "session_cookie_httponly": settings.SESSION_COOKIE_HTTPONLY,
    }))
    """
)


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PORTAL_"))}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PORTAL_DATA_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> dict:
    """The answer to GET /login/ with the production settings (one interpreter for them all)."""
    return _probe(tmp_path_factory.mktemp("production"))


def _probe(tmp_path: Path, **extra: str) -> dict:
    result = _run(["-c", PROBE], {**PRODUCTION, **extra}, tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_reports_nothing_with_production_settings(tmp_path):
    result = _run(CHECK_DEPLOY, PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stderr
    # Only security.W021 (HSTS preload, an opt-in) is silenced, by portal/settings.py.
    assert "System check identified no issues (1 silenced)." in result.stdout + result.stderr


def test_check_deploy_silences_nothing_when_hsts_preload_is_on(tmp_path):
    env = {**PRODUCTION, "PORTAL_HSTS_PRELOAD": "true"}
    result = _run(CHECK_DEPLOY, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_speaks_up_when_hsts_is_turned_off(tmp_path):
    env = {**PRODUCTION, "PORTAL_HSTS_SECONDS": "0"}
    result = _run(CHECK_DEPLOY, env, tmp_path)
    assert result.returncode != 0
    assert "security.W004" in result.stderr


def test_production_sends_the_security_headers(production):
    answer = production
    headers = answer["headers"]
    assert answer["status"] == 200
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "Server" not in headers and "X-Powered-By" not in headers


def test_production_cookies_travel_over_https_only(production):
    answer = production
    assert answer["csrf_cookie"]["secure"] is True
    assert answer["csrf_cookie"]["samesite"] == "Lax"
    assert answer["session_cookie_secure"] is True
    assert answer["session_cookie_httponly"] is True


def test_a_plain_http_request_is_redirected_to_https(production):
    answer = production
    assert answer["http_status"] == 301
    assert answer["http_location"] == "https://testserver/login/"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PORTAL_HSTS_SECONDS": "600", "PORTAL_HSTS_INCLUDE_SUBDOMAINS": "false"}, "max-age=600"),
        ({"PORTAL_HSTS_PRELOAD": "true"}, "max-age=31536000; includeSubDomains; preload"),
        ({"PORTAL_HSTS_SECONDS": "0"}, None),
    ],
)
def test_hsts_follows_its_settings(tmp_path, env, expected):
    headers = _probe(tmp_path, **env)["headers"]
    assert headers.get("Strict-Transport-Security") == expected
