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
