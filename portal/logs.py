"""One JSON object per log line, carrying the request it belongs to.

RequestContextMiddleware (portal.middleware) sets the request id and user in a context
variable; RequestContextFilter copies them onto every record logged while the request runs,
including the upstream calls portal.iot logs.
"""

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

request_context: ContextVar[dict[str, str] | None] = ContextVar("request_context", default=None)

# Attributes every LogRecord has; anything else on a record is an `extra` worth keeping.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (request_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
