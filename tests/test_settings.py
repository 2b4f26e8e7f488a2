"""Settings come from the environment and refuse values they cannot use."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_float, env_int, env_list


def test_it_reads_booleans_numbers_and_lists(monkeypatch):
    monkeypatch.setenv("X_BOOL", "off")
    monkeypatch.setenv("X_INT", "12")
    monkeypatch.setenv("X_FLOAT", "2.5")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert env_bool("X_BOOL", True) is False
    assert env_int("X_INT", 1) == 12
    assert env_float("X_FLOAT", 1.0) == 2.5
    assert env_list("X_LIST") == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("reader", "value"),
    [(env_bool, "maybe"), (env_int, "ten"), (env_float, "fast")],
)
def test_it_fails_loudly_on_a_bad_value(monkeypatch, reader, value):
    monkeypatch.setenv("X_BAD", value)
    with pytest.raises(ImproperlyConfigured, match="X_BAD"):
        reader("X_BAD", 1)


def test_it_refuses_a_number_below_its_minimum(monkeypatch):
    monkeypatch.setenv("X_LOW", "-1")
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env_int("X_LOW", 1, minimum=0)


def _start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PORTAL_"))}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_it_runs_locally_with_nothing_set():
    assert _start({}).returncode == 0


def test_it_refuses_to_start_without_debug_and_secrets_and_names_them():
    result = _start({"DJANGO_DEBUG": "false"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY and PORTAL_TOKEN_KEYS must be set" in result.stderr


def test_it_names_only_the_missing_secret():
    result = _start({"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "s" * 50})
    assert "PORTAL_TOKEN_KEYS must be set" in result.stderr
    assert "DJANGO_SECRET_KEY" not in result.stderr.split("ImproperlyConfigured")[-1]
