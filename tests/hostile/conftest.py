"""The hostile suite's portal: production settings under gunicorn, on PostgreSQL and on SQLite.

`portal` is a session fixture with one parameter per backend:

- `postgresql`: PostgreSQL (a fresh database) and Redis (a key prefix of its own), as a
  production deployment runs. Needs PORTAL_TEST_POSTGRES_URL and PORTAL_TEST_REDIS_URL
  (`.ci/run` sets them); in CI (CI=true) their absence fails the suite, never skips it.
- `sqlite`: SQLite and the local-memory cache, the default install.

Both run the image's gunicorn.conf.py with DJANGO_DEBUG off, the read cache off (so each case
meets the upstream answer set up for it) and a 3 s upstream timeout. The upstream is the
emulator behind a RawRecorder, which logs the exact path of every request it receives.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from emulator.pytest_plugin import TOKEN_A, TOKEN_B
from emulator.server import Emulator
from tests.hostile.harness import Batch, Portal, RawRecorder
from tests.multi import deployment as dep

POSTGRES_URL = os.environ.get(dep.POSTGRES_VARIABLE, "")
REDIS_URL = os.environ.get(dep.REDIS_VARIABLE, "")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BACKENDS = (["postgresql"] if POSTGRES_URL and REDIS_URL else []) + ["sqlite"]

# (username, role): one signed-in session per role; "victim" is the user the user pages
# change, "selfie" enters tokens of their own: neither is ever signed in to run cases.
USERS = [
    ("hostile-admin", "admin"),
    ("hostile-maintainer", "maintainer"),
    ("hostile-operator", "operator"),
    ("hostile-viewer", "viewer"),
    ("hostile-victim", "viewer"),
    ("hostile-selfie", "viewer"),
]
SETUP_SCRIPT = f"""
import json
from django.contrib.auth.models import User
from portal import services
from portal.roles import Role
team = services.save_token("Team A", {TOKEN_A!r})
spare = services.save_token("Spare", {TOKEN_B!r})
ids = {{"team_token": team.pk, "spare_token": spare.pk}}
for name, role in {USERS!r}:
    user = User.objects.create_user(name, password={dep.PASSWORD!r})
    services.set_role(user, Role(role))
    services.assign_token(user, team)
    ids[name] = user.pk
print("IDS=" + json.dumps(ids))
"""


@pytest.fixture(scope="session", autouse=True)
def _postgres_in_ci() -> None:
    if IN_CI and "postgresql" not in BACKENDS:
        pytest.fail(
            f"CI must run the hostile suite on PostgreSQL: set {dep.POSTGRES_VARIABLE} and "
            f"{dep.REDIS_VARIABLE} (.ci/run does)."
        )


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[Emulator]:
    """The session's emulator, with a RawRecorder in front (overrides the plugin's)."""
    server = Emulator(tokens=(TOKEN_A, TOKEN_B), ota_seconds=1.0, reboot_seconds=1.0)
    server.recorder = RawRecorder(server.app)
    server.app = server.recorder  # make_server() takes the app when the server starts
    with server:
        yield server


def _collect_static() -> None:
    """Production settings serve static files from the manifest; build it once at a time."""
    lock = Path(tempfile.gettempdir()) / "portal-collectstatic.lock"
    with lock.open("w") as handle, tempfile.TemporaryDirectory() as data_dir:
        fcntl.flock(handle, fcntl.LOCK_EX)
        dep.manage(dep.base_env(Path(data_dir), "http://127.0.0.1:9"), "collectstatic", "--noinput")


def _database_and_cache(backend: str, data_dir: Path, stack: ExitStack) -> dict[str, str]:
    if backend == "sqlite":
        return {"DATABASE_URL": f"sqlite:///{data_dir / 'portal.sqlite3'}"}
    database_url = stack.enter_context(dep.fresh_postgres(POSTGRES_URL))
    prefix = stack.enter_context(dep.redis_prefix(REDIS_URL))
    return {"DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "PORTAL_CACHE_PREFIX": prefix}


@pytest.fixture(scope="session", params=BACKENDS)
def portal(request, emulator_server) -> Iterator[Portal]:
    """One portal instance (2 workers) on this backend, its users signed in, one per role."""
    _collect_static()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        data_dir = Path(tmp)
        env = {
            **dep.base_env(data_dir, emulator_server.url),
            **_database_and_cache(request.param, data_dir, stack),
            "PORTAL_READ_CACHE_SECONDS": "0",
            "IOT_API_TIMEOUT": "3",
            "IOT_API_CONNECT_TIMEOUT": "1",
            "PORTAL_ALLOW_SELF_TOKEN": "true",
            "PORTAL_LOG_LEVEL": "WARNING",
            "PORTAL_GRACEFUL_TIMEOUT": "2",
        }
        dep.manage(env, "migrate", "--noinput")
        output = dep.manage(env, "shell", stdin=SETUP_SCRIPT)
        ids = json.loads(output.split("IDS=", 1)[1].splitlines()[0])
        ((url, _log),) = stack.enter_context(dep.instances(env, 1, 2, data_dir))
        running = Portal(request.param, url, env["DATABASE_URL"], ids)
        for username, role in USERS[:4]:
            running.sign_in(role, username, dep.PASSWORD)
        running.sign_in("selfie", "hostile-selfie", dep.PASSWORD)
        yield running
        running.close()


@pytest.fixture
def batch(request, portal, emulator_server) -> Iterator[Batch]:
    """A batch of cases for this test, on a freshly reset emulator; its score is reported."""
    emulator_server.reset()
    emulator_server.recorder.clear()
    run = Batch(portal, emulator_server, emulator_server.recorder, request.node.originalname)
    run.score.update(run.summary())
    request.node.user_properties.append(("hostile", run.score))
    yield run
    run.save()


@pytest.fixture
def uid(emulator_server) -> str:
    """A device of the team token (its name never changes between resets)."""
    return emulator_server.device_uid(TOKEN_A, "Greenhouse Sensor")
