"""gunicorn settings for the portal, all from the environment (docs/deploy.md lists them).

Threaded workers (gthread): a request mostly waits on the upstream API, so threads give
concurrency cheaply, and several workers keep one slow request from holding a whole instance.
"""

import os
import time

from gunicorn import glogging

from portal.env import env_bool, env_int
from portal.logs import JsonFormatter

wsgi_app = "portal.wsgi:application"
bind = [os.environ.get("PORTAL_BIND", "0.0.0.0:8000")]
worker_class = "gthread"
workers = env_int("PORTAL_WORKERS", 2, minimum=1)
threads = env_int("PORTAL_THREADS", 4, minimum=1)
# Longer than the slowest upstream call the portal makes (a firmware upload, 60 s by default).
timeout = env_int("PORTAL_WORKER_TIMEOUT", 90, minimum=1)
graceful_timeout = env_int("PORTAL_GRACEFUL_TIMEOUT", 30, minimum=1)
keepalive = env_int("PORTAL_KEEPALIVE", 5, minimum=0)
# A worker is replaced after this many requests (with jitter, so the workers are not replaced
# together), bounding any slow leak.
max_requests = env_int("PORTAL_MAX_REQUESTS", 2000, minimum=0)
max_requests_jitter = max_requests // 10
# A kept-alive connection stays on the worker that accepted it. When a worker is replaced,
# every client it served reconnects to the others, and a connection that is never closed
# never comes back: one worker served every client after a replacement (half the
# throughput). So a worker closes a connection after answering (`Connection: close`) when
# - it holds more connections than it has threads (a request on one of them may wait for a
#   thread while another worker has one free; PORTAL_CLOSE_BUSY_CONNECTIONS=false turns this
#   off), or
# - the connection has carried PORTAL_CONNECTION_REQUESTS requests (0: no such bound).
# The client's next request opens a new connection, which the least busy worker tends to
# accept first; a new connection costs little next to a request that waits on the upstream.
# docs/PERFORMANCE.md, "Worker replacements", has the figures.
CLOSE_BUSY_CONNECTIONS = env_bool("PORTAL_CLOSE_BUSY_CONNECTIONS", True)
CONNECTION_REQUESTS = env_int("PORTAL_CONNECTION_REQUESTS", 100, minimum=0)
# One listening socket shared by the workers, not one each (SO_REUSEPORT): the kernel would
# spread connections evenly, but a replaced worker's socket takes the connections waiting on
# it down with it (the benchmark lost about a hundred requests a minute that way).
reuse_port = False

# The portal logs every request itself, as JSON with a request id and the user
# (portal.middleware); gunicorn's text access log would only duplicate it, so it stays off.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("PORTAL_LOG_LEVEL", "INFO").lower()


class JsonLogger(glogging.Logger):
    """gunicorn's own lines (start, worker boot, timeouts) as JSON, in the portal's shape.

    A logging config (`logconfig_dict`) would do this too, but it also turns gunicorn's access
    log on: gunicorn then gathers every request's log fields (about 0.3 ms a request) for a
    logger set to drop them. Re-formatting its error log here leaves the access log off.
    """

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())


logger_class = JsonLogger

# Several instances on one host (and the test suite's two) must not share a control socket
# under $HOME; nothing in a container uses gunicornc.
control_socket_disable = True
# The proxy in front sets X-Forwarded-Proto; the portal reads it itself (PORTAL_BEHIND_TLS_PROXY).
# gunicorn never takes the client address from X-Forwarded-For: PORTAL_PROXY_COUNT decides it.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# gunicorn 27 sends "Server: gunicorn" with no version; the proxy in front replaces or drops it.


# New container objects (dicts, lists, instances) that start a collection: Python's default
# is 2,000, and decoding a 1,000-device list alone makes 3,000.
GC_YOUNG_THRESHOLD = 50_000


def post_worker_init(worker) -> None:
    """Keep the garbage collector out of the way of requests.

    - `gc.freeze()`: Django, the portal and their imports are some hundred thousand objects
      that live as long as the worker; frozen, no full collection walks them again.
    - A higher first threshold: with Python's 2,000, decoding a 1,000-device list started a
      collection on nearly every page (0.65 ms a request in the benchmark's worker); at
      50,000 they come every hundred pages or so (0.1 ms a request on average). What a
      request allocates is mostly freed when it ends, by reference counting, not by the
      collector. docs/PERFORMANCE.md has the figures.
    """
    import gc

    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def pre_request(worker, req) -> None:
    """Answer with `Connection: close` when this worker should let the connection go.

    `req.req_number` counts the requests on this connection; `nr_conns` (gthread) the
    connections the worker holds, kept-alive ones included. `force_close` makes gunicorn
    close the connection after this answer.
    """
    busy = CLOSE_BUSY_CONNECTIONS and getattr(worker, "nr_conns", 0) > worker.cfg.threads
    if busy or (CONNECTION_REQUESTS and req.req_number >= CONNECTION_REQUESTS):
        req.force_close()


# What a closing connection still reads of a request body its answer did not need (a form
# refused as too big is answered before its body is read): at most this much, this long.
DRAIN_BYTES = 32 * 1024 * 1024
DRAIN_SECONDS = 2.0


def post_request(worker, req, environ, resp) -> None:
    """Read the rest of an unread request body before the connection closes.

    A connection closed with unread bytes in its receive buffer is reset, not closed, and a
    client still sending its body then loses the answer already written for it ("Connection
    reset" instead of the page saying the form was too big). On a kept-alive connection
    gunicorn skips the rest itself when it reads the next request; when this answer closes
    the connection (`Connection: close` above, a worker's last request), it is read here,
    bounded in bytes and time, so a client that stalls holds the thread two seconds at most.
    """
    if resp is None or not resp.should_close():
        return
    body = getattr(req, "body", None)
    sock = getattr(getattr(req, "unreader", None), "sock", None)
    if body is None or sock is None:
        return
    deadline = time.monotonic() + DRAIN_SECONDS
    read = 0
    try:
        sock.settimeout(DRAIN_SECONDS)
        while read < DRAIN_BYTES and time.monotonic() < deadline:
            chunk = body.read(64 * 1024)
            if not chunk:
                return
            read += len(chunk)
    except Exception:  # a client gone, or lying about its length: the connection closes
        return
