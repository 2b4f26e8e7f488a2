"""The multi-instance suite: the portal as it runs in production, several copies at once.

Two backends, each a `deployment` fixture parameter:

- `postgres-redis`: two gunicorn instances over one fresh PostgreSQL database and one Redis
  (a key prefix of its own). Runs when PORTAL_TEST_POSTGRES_URL and PORTAL_TEST_REDIS_URL are
  set (`.ci/run` sets them); in CI (CI=true) their absence is a failure, never a skip.
- `sqlite-locmem`: one instance on SQLite with the local-memory cache, the default install.

Separate variable names from DATABASE_URL/REDIS_URL keep the main pytest run on its own
database.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.pytest_plugin import TOKEN_A
from tests.multi import deployment as dep

POSTGRES_URL = os.environ.get(dep.POSTGRES_VARIABLE, "")
REDIS_URL = os.environ.get(dep.REDIS_VARIABLE, "")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BACKENDS = (["postgres-redis"] if POSTGRES_URL and REDIS_URL else []) + ["sqlite-locmem"]

USERS = [("alice", "admin"), ("bob", "viewer"), ("carol", "viewer"), ("dave", "operator")]
SETUP_SCRIPT = f"""
from django.contrib.auth.models import User
from portal import services
from portal.roles import Role
token = services.save_token("Team A", {TOKEN_A!r})
for name, role in {USERS!r}:
    user = User.objects.create_user(name, password={dep.PASSWORD!r})
    services.set_role(user, Role(role))
    services.assign_token(user, token)
"""


@pytest.fixture(scope="session", autouse=True)
def _services_in_ci() -> None:
    if IN_CI and "postgres-redis" not in BACKENDS:
        pytest.fail(
            f"CI must run the multi-instance suite on PostgreSQL and Redis: set "
            f"{dep.POSTGRES_VARIABLE} and {dep.REDIS_VARIABLE} (.ci/run does)."
        )


def pytest_terminal_summary(terminalreporter) -> None:
    if "postgres-redis" not in BACKENDS:
        terminalreporter.write_line(
            f"multi-instance suite ran on SQLite only: set {dep.POSTGRES_VARIABLE} and "
            f"{dep.REDIS_VARIABLE} to run it on PostgreSQL and Redis too."
        )


@pytest.fixture(scope="session")
def collected_static() -> None:
    """Production settings serve static files from the manifest: build it once."""
    with tempfile.TemporaryDirectory() as data_dir:
        dep.manage(dep.base_env(Path(data_dir), "http://127.0.0.1:9"), "collectstatic", "--noinput")


def _database_and_cache(backend: str, data_dir: Path, stack) -> dict[str, str]:
    if backend == "sqlite-locmem":
        return {"DATABASE_URL": f"sqlite:///{data_dir / 'portal.sqlite3'}"}
    database_url = stack.enter_context(dep.fresh_postgres(POSTGRES_URL))
    prefix = stack.enter_context(dep.redis_prefix(REDIS_URL))
    return {"DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "PORTAL_CACHE_PREFIX": prefix}


@pytest.fixture(scope="session", params=BACKENDS)
def deployment(request, collected_static, emulator_server) -> Iterator[dep.Deployment]:
    """The portal deployed: migrated, four users on the team token, instances running."""
    from contextlib import ExitStack

    backend = request.param
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        data_dir = Path(tmp)
        env = {
            **dep.base_env(data_dir, emulator_server.url),
            **_database_and_cache(backend, data_dir, stack),
        }
        migrate_output = dep.manage(env, "migrate", "--noinput")  # onto the empty database
        dep.manage(env, "shell", stdin=SETUP_SCRIPT)  # stdin, not argv: no token in `ps`
        # Both as installed: PORTAL_WORKERS defaults to 2, so the one SQLite instance has two
        # workers, each with its own local-memory cache.
        count, workers = (2, 2) if backend == "postgres-redis" else (1, 2)
        running = stack.enter_context(dep.instances(env, count, workers, data_dir))
        stack.enter_context(dep.worker(env, data_dir / "worker.log"))
        yield dep.Deployment(
            name=backend,
            caches=1 if backend == "postgres-redis" else count * workers,
            urls=[url for url, _ in running],
            database_url=env["DATABASE_URL"],
            env=env,
            migrate_output=migrate_output,
            logs=[log for _, log in running],
            worker_log=data_dir / "worker.log",
        )
