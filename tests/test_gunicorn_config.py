"""gunicorn.conf.py: its logger writes JSON and leaves the access log off."""

from __future__ import annotations

import gc
import json
import logging
import runpy
from pathlib import Path

from gunicorn.config import Config

from portal.logs import JsonFormatter

ROOT = Path(__file__).resolve().parent.parent


def _config() -> Config:
    cfg = Config()
    for name, value in runpy.run_path(str(ROOT / "gunicorn.conf.py")).items():
        if name in cfg.settings:
            cfg.set(name, value)
    return cfg


def test_the_access_log_is_off_so_no_request_pays_for_its_fields():
    logger = _config().logger_class(_config())
    assert logger.access_log_enabled is False
    assert not logger.access_log.handlers


def test_gunicorns_own_lines_are_json():
    logger = _config().logger_class(_config())
    handlers = logger.error_log.handlers
    assert handlers and all(isinstance(h.formatter, JsonFormatter) for h in handlers)
    record = logging.LogRecord("gunicorn.error", logging.INFO, "", 0, "Booting worker", (), None)
    entry = json.loads(handlers[0].format(record))
    assert entry["logger"] == "gunicorn.error" and entry["message"] == "Booting worker"


def test_each_worker_freezes_the_loaded_code_and_collects_garbage_less_often():
    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    before = gc.get_threshold()
    try:
        hooks["post_worker_init"](None)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (hooks["GC_YOUNG_THRESHOLD"], *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def _hooks(monkeypatch, **env: str) -> dict:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def _requests_on_one_connection(count: int) -> list:
    """`count` real gunicorn requests parsed from one connection's bytes."""
    from gunicorn.http.parser import RequestParser

    cfg = _config()
    wire = b"GET /devices/ HTTP/1.1\r\nHost: portal\r\n\r\n" * count
    return list(RequestParser(cfg, iter([wire]), ("127.0.0.1", 5000)))


class _Worker:
    """What the hook reads of gunicorn's gthread worker: its connections and threads."""

    def __init__(self, connections: int, threads: int = 4) -> None:
        self.nr_conns = connections
        self.cfg = _config()
        self.cfg.set("threads", threads)


def test_a_worker_with_a_free_thread_keeps_the_connection_alive(monkeypatch):
    hooks = _hooks(monkeypatch)
    first = _requests_on_one_connection(1)[0]
    hooks["pre_request"](_Worker(connections=4), first)
    assert not first.should_close()


def test_a_worker_closes_a_connection_it_has_no_free_thread_for(monkeypatch):
    """Its client reconnects, and may land on a worker with a thread free (after a
    replacement, the new worker): connections spread over the workers again."""
    hooks = _hooks(monkeypatch)
    first = _requests_on_one_connection(1)[0]
    hooks["pre_request"](_Worker(connections=5), first)
    assert first.should_close()


def test_a_connection_is_closed_after_its_hundredth_request(monkeypatch):
    hooks = _hooks(monkeypatch)
    assert hooks["CONNECTION_REQUESTS"] == 100
    requests = _requests_on_one_connection(100)
    for request in requests:
        hooks["pre_request"](_Worker(connections=1), request)
    assert [r.req_number for r in requests if r.should_close()] == [100]


def test_both_rules_can_be_turned_off(monkeypatch):
    hooks = _hooks(
        monkeypatch, PORTAL_CONNECTION_REQUESTS="0", PORTAL_CLOSE_BUSY_CONNECTIONS="false"
    )
    requests = _requests_on_one_connection(150)
    for request in requests:
        hooks["pre_request"](_Worker(connections=50), request)
    assert not any(r.should_close() for r in requests)


def test_workers_are_not_replaced_together_and_share_one_listening_socket(monkeypatch):
    hooks = _hooks(monkeypatch, PORTAL_MAX_REQUESTS="300")
    assert hooks["max_requests"] == 300 and hooks["max_requests_jitter"] == 30
    # A socket per worker (SO_REUSEPORT) drops the connections waiting on a worker's socket
    # when it is replaced: the benchmark saw failed requests (docs/PERFORMANCE.md).
    assert hooks["reuse_port"] is False
