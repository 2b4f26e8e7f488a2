"""The image, compose and proxy files agree with the code and the docs.

Docker cannot run on the build machines; tests/multi proves the same shape with processes.
These checks keep the files that describe it from drifting away from what was proven.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = (ROOT / "docker-compose.yml").read_text()
CADDYFILE = (ROOT / "deploy" / "Caddyfile").read_text()
DEPLOY_DOC = (ROOT / "docs" / "deploy.md").read_text()
README = (ROOT / "README.md").read_text()
DOCKERIGNORE = [
    line.strip()
    for line in (ROOT / ".dockerignore").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
ENV_READ = re.compile(
    r'(?:env_(?:str|bool|int|float|list)|os\.environ\.get)\(\s*"([A-Z][A-Z0-9_]+)"'
)


def _variables_read() -> set[str]:
    names = set()
    for path in (ROOT / "portal" / "settings.py", ROOT / "gunicorn.conf.py"):
        names |= set(ENV_READ.findall(path.read_text()))
    return names


def _documented(text: str) -> set[str]:
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", text, re.MULTILINE))


def test_every_variable_the_portal_reads_is_documented_in_deploy_md_and_the_readme():
    read = _variables_read()
    assert {"DATABASE_URL", "REDIS_URL", "PORTAL_WORKERS", "PORTAL_BIND"} <= read
    assert read - _documented(DEPLOY_DOC) == set()
    assert read - _documented(README) == set()


def test_deploy_md_documents_no_variable_the_portal_does_not_read():
    assert _documented(DEPLOY_DOC) - _variables_read() - {"FORWARDED_ALLOW_IPS"} == set()


def test_the_image_runs_gunicorn_with_the_config_and_checks_health_with_python():
    assert 'CMD ["gunicorn", "--config", "gunicorn.conf.py"]' in DOCKERFILE
    assert 'CMD ["python", "/app/bin/healthcheck.py"]' in DOCKERFILE
    assert "curl" not in DOCKERFILE.split("HEALTHCHECK", 1)[1]
    assert "USER portal" in DOCKERFILE
    assert "collectstatic" in DOCKERFILE
    # Migrations are an explicit step, never part of starting a container.
    assert "migrate" not in DOCKERFILE.split("CMD", 1)[-1].split("\n", 1)[0]
    assert "ENTRYPOINT" not in DOCKERFILE


def test_the_image_copies_the_files_it_runs():
    needed = ["gunicorn.conf.py", "bin", "portal", "devices", "firmware", "templates", "static"]
    needed += ["emulator", "manage.py", "requirements.txt"]
    for name in needed:
        assert (ROOT / name).exists()
        assert name not in DOCKERIGNORE
    assert {".git", ".venv", "tests", "data", "staticfiles", ".env"} <= set(DOCKERIGNORE)


def test_compose_runs_two_replicas_behind_the_proxy_over_postgres_and_redis():
    for service in ("portal-1", "portal-2", "proxy", "postgres", "redis", "migrate", "emulator"):
        assert re.search(rf"^  {re.escape(service)}:$", COMPOSE, re.MULTILINE), service
    assert "reverse_proxy portal-1:8000 portal-2:8000" in CADDYFILE
    assert "health_uri /healthz" in CADDYFILE
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in COMPOSE
    assert 'profiles: ["demo"]' in COMPOSE
    assert "DATABASE_URL: postgres://" in COMPOSE and "REDIS_URL: redis://redis:6379/0" in COMPOSE


def test_compose_sets_only_variables_the_portal_reads():
    block = COMPOSE.split("environment: &portal-env", 1)[1].split("depends_on:", 1)[0]
    names = set(re.findall(r"^    ([A-Z][A-Z0-9_]+):", block, re.MULTILINE))
    assert names - _variables_read() - {"FORWARDED_ALLOW_IPS"} == set()


def test_the_healthcheck_script_fails_when_nothing_answers():
    result = subprocess.run(
        [sys.executable, str(ROOT / "bin" / "healthcheck.py")],
        env={"PORTAL_BIND": "127.0.0.1:9"},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 1
    assert "healthcheck:" in result.stderr


def _service(name: str) -> str:
    """A compose service's block: from its name to the next service or top-level key."""
    match = re.search(rf"^  {re.escape(name)}:\n(.*?)(?=^  [a-z0-9-]+:$|^\S)", COMPOSE, re.M | re.S)
    assert match, name
    return match.group(1)


def test_compose_runs_a_worker_on_the_portals_image_env_and_database():
    worker = _service("worker")
    # The portal's anchor: the same image, environment (DATABASE_URL, REDIS_URL, keys...) and
    # the wait for PostgreSQL and Redis.
    assert re.search(r"^    <<: \*portal$", worker, re.M)
    assert 'command: ["python", "manage.py", "db_worker", "--queue-name", "*"]' in worker
    assert "expose: []" in worker  # it serves no HTTP
    assert "profiles" not in worker  # it starts with `docker compose up`
    # Its health is its own (a live Worker row), not the portal's /healthz.
    assert 'test: ["CMD", "python", "/app/bin/healthcheck.py", "--worker"]' in worker
    grace = re.search(r"stop_grace_period: (\d+)s", worker)
    assert grace and int(grace.group(1)) > 10  # above IOT_API_TIMEOUT's default: a call ends


MANAGE_COMMAND = re.compile(
    r"""(?:python|\$\(PY\)) manage\.py ([a-z_]+)|"manage\.py", "([a-z_]+)\""""
)


def test_every_manage_py_command_the_image_compose_and_docs_name_exists():
    from django.core.management import get_commands

    texts = [DOCKERFILE, COMPOSE, DEPLOY_DOC, README, (ROOT / "Makefile").read_text()]
    named = {a or b for text in texts for a, b in MANAGE_COMMAND.findall(text)}
    assert {"db_worker", "migrate", "prune_db_task_results"} <= named
    commands = get_commands()
    assert named - set(commands) == set()
    assert commands["db_worker"] == "fleet"  # fleet's worker (alive, revive), not the bare one


def test_the_images_commands_name_files_that_exist():
    assert (ROOT / "gunicorn.conf.py").exists() and (ROOT / "bin" / "healthcheck.py").exists()
    assert "python manage.py db_worker --queue-name '*'" in DOCKERFILE
    for path in re.findall(r'"/app/([^"]+\.py)"', DOCKERFILE + COMPOSE):
        assert (ROOT / path).exists(), path


def _healthcheck_module():
    """bin/healthcheck.py, imported (bin/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "bin" / "healthcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_worker_healthcheck_fails_without_a_live_worker_on_this_host(db, settings):
    from datetime import timedelta

    from django.utils import timezone

    from fleet import engine
    from fleet.models import Worker

    healthcheck = _healthcheck_module()
    settings.PORTAL_FLEET_WORKER_TIMEOUT = 30
    assert not healthcheck.worker_alive_here()
    Worker.objects.create(id="elsewhere", host="another-host", seen_at=timezone.now())
    assert not healthcheck.worker_alive_here()
    engine.alive()
    assert healthcheck.worker_alive_here()
    Worker.objects.filter(id=engine.worker_id()).update(
        seen_at=timezone.now() - timedelta(seconds=31)
    )
    assert not healthcheck.worker_alive_here()


def test_the_worker_healthcheck_script_fails_on_a_database_without_workers(tmp_path):
    env = {"PORTAL_DATA_DIR": str(tmp_path), "DJANGO_DEBUG": "true", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bin" / "healthcheck.py"), "--worker"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1
    assert "healthcheck:" in result.stderr


def test_the_healthcheck_knows_a_worker_container_by_its_main_process(tmp_path):
    healthcheck = _healthcheck_module()
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"python\0manage.py\0db_worker\0--queue-name\0*\0")
    assert healthcheck.main_process_is_a_worker(cmdline)
    cmdline.write_bytes(
        b"/usr/local/bin/python\0/usr/local/bin/gunicorn\0--config\0gunicorn.conf.py\0"
    )
    assert not healthcheck.main_process_is_a_worker(cmdline)
    assert not healthcheck.main_process_is_a_worker(tmp_path / "missing")
