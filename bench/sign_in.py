"""Sign-in cost per password hasher: one hash, and one whole sign-in request.

In-process (Django's test client over a fresh SQLite database, the portal's real middleware
and backends): the figure is server time, with no network or browser in it. Each hasher is
timed with Django's own default cost for it, the one the portal runs with.

    .venv/bin/python -m bench sign_in
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import warnings

from bench.common import ROOT

HASHERS = {
    "PBKDF2 (1,500,000 iterations)": "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "Argon2 (argon2-cffi, Django's default cost)": (
        "django.contrib.auth.hashers.Argon2PasswordHasher"
    ),
}
PASSWORD = "bench-password-0000"
HASHES, SIGN_INS, ROUNDS = 10, 10, 3


def _setup(data_dir: str) -> None:
    os.environ.update(
        PORTAL_DATA_DIR=data_dir,
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_LOG_LEVEL="WARNING",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-secret-key-" + "x" * 40,
        PORTAL_TOKEN_KEYS="ZmRlYmVuY2gta2V5LWJlbmNoLWtleS1iZW5jaC1rZXk=",  # noqa: S106
        PORTAL_SECURE_COOKIES="false",
        PORTAL_BEHIND_TLS_PROXY="false",
        PORTAL_SSL_REDIRECT="false",
        DJANGO_ALLOWED_HOSTS="testserver",
    )
    sys.path.insert(0, str(ROOT))
    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic needed
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _median_ms(call, runs: int) -> float:
    call()  # warm up: imports, first connection
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _measure(hasher: str) -> tuple[float, float]:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.test import Client, override_settings

    with override_settings(PASSWORD_HASHERS=[hasher]):
        per_hash = _median_ms(lambda: make_password(PASSWORD), HASHES)
        User.objects.filter(username="bench").delete()
        User.objects.create_user("bench", password=PASSWORD)

        def sign_in() -> None:
            client = Client()
            response = client.post("/login/", {"username": "bench", "password": PASSWORD})
            if response.status_code != 302:
                raise RuntimeError(f"sign-in failed: {response.status_code}")

        per_sign_in = _median_ms(sign_in, SIGN_INS)
    return per_hash, per_sign_in


def run() -> dict[str, list[tuple[float, float]]]:
    with tempfile.TemporaryDirectory() as data_dir:
        _setup(data_dir)
        # Rounds interleave the hashers, so both see the same machine load.
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in HASHERS}
        for _ in range(ROUNDS):
            for name, hasher in HASHERS.items():
                results[name].append(_measure(hasher))
        return results


def report(results: dict[str, list[tuple[float, float]]]) -> str:
    lines = [
        "## Sign-in (`python -m bench sign_in`)",
        "",
        f"Median of {HASHES} hashes and of {SIGN_INS} sign-ins (`POST /login/`, in-process, "
        f"server time), each of {ROUNDS} interleaved rounds:",
        "",
        "| hasher | ms per hash | ms per sign-in |",
        "|---|---:|---:|",
    ]
    for name, rounds in results.items():
        hashes = " / ".join(f"{h:.0f}" for h, _ in rounds)
        sign_ins = " / ".join(f"{s:.0f}" for _, s in rounds)
        lines.append(f"| {name} | {hashes} | {sign_ins} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run()))
