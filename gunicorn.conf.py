"""gunicorn settings for the portal, all from the environment (docs/deploy.md lists them).

Threaded workers (gthread): a request mostly waits on the upstream API, so threads give
concurrency cheaply, and several workers keep one slow request from holding a whole instance.
"""

import os

from portal.env import env_int

wsgi_app = "portal.wsgi:application"
bind = [os.environ.get("PORTAL_BIND", "0.0.0.0:8000")]
worker_class = "gthread"
workers = env_int("PORTAL_WORKERS", 2, minimum=1)
threads = env_int("PORTAL_THREADS", 4, minimum=1)
# Longer than the slowest upstream call the portal makes (a firmware upload, 60 s by default).
timeout = env_int("PORTAL_WORKER_TIMEOUT", 90, minimum=1)
graceful_timeout = env_int("PORTAL_GRACEFUL_TIMEOUT", 30, minimum=1)
keepalive = env_int("PORTAL_KEEPALIVE", 5, minimum=0)
# A worker is replaced after this many requests (with jitter), bounding any slow leak.
max_requests = env_int("PORTAL_MAX_REQUESTS", 2000, minimum=0)
max_requests_jitter = max_requests // 10

# The portal logs every request itself, as JSON with a request id and the user
# (portal.middleware); gunicorn's text access log would only duplicate it, so it stays off.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("PORTAL_LOG_LEVEL", "INFO").lower()
# gunicorn's own lines (start, worker boot, timeouts) in the same one-JSON-object-per-line
# shape as the portal's.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "portal.logs.JsonFormatter"}},
    "handlers": {
        "error_console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        },
    },
    "root": {"level": loglevel.upper(), "handlers": ["error_console"]},
    "loggers": {
        # A logging config turns gunicorn's access log on; this keeps it off.
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        "gunicorn.error": {
            "level": loglevel.upper(),
            "handlers": ["error_console"],
            "propagate": False,
        },
    },
}

# Several instances on one host (and the test suite's two) must not share a control socket
# under $HOME; nothing in a container uses gunicornc.
control_socket_disable = True
# The proxy in front sets X-Forwarded-Proto; the portal reads it itself (PORTAL_BEHIND_TLS_PROXY).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# gunicorn 27 sends "Server: gunicorn" with no version; the proxy in front replaces or drops it.


def post_worker_init(worker) -> None:
    """Leave the loaded code out of the garbage collector's full passes.

    Django, the portal and their imports are some hundred thousand objects that live as long
    as the worker; without this, every full collection walks them all again (a few ms, every
    few dozen requests on a 1,000-device list). docs/PERFORMANCE.md has the figures.
    """
    import gc

    gc.freeze()
