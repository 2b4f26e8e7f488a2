"""Django settings for the IoT Device Portal.

Every setting an operator may change comes from the environment (README.md and docs/deploy.md
list them all, with their defaults). With nothing set the portal runs locally on SQLite and a
local-memory cache; with DJANGO_DEBUG off it refuses to start without real secrets.
"""

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from portal.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("PORTAL_DATA_DIR", str(BASE_DIR / "data")))

DEBUG = env_bool("DJANGO_DEBUG", True)

_DEV_SECRET = "django-insecure-local-development-only-never-in-production"  # noqa: S105
SECRET_KEY = env_str("DJANGO_SECRET_KEY", _DEV_SECRET if DEBUG else "")

# Fernet keys for the token vault: the first encrypts, every one decrypts (key rotation).
PORTAL_TOKEN_KEYS = env_list("PORTAL_TOKEN_KEYS")
if DEBUG and not PORTAL_TOKEN_KEYS:
    # A stable development key, so a local database keeps working across restarts.
    PORTAL_TOKEN_KEYS = [base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest())]

if not DEBUG:
    missing = [
        name
        for name, value in (
            ("DJANGO_SECRET_KEY", SECRET_KEY if SECRET_KEY != _DEV_SECRET else ""),
            ("PORTAL_TOKEN_KEYS", PORTAL_TOKEN_KEYS),
        )
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(
            f"DJANGO_DEBUG is off, so {' and '.join(missing)} must be set (see docs/deploy.md)."
        )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "axes",
    "portal",
    "devices",
    "firmware",
    # Before django_tasks_db: its `db_worker` is fleet's, which also revives jobs whose
    # worker died (fleet/management/commands/db_worker.py).
    "fleet",
    "django_tasks_db",
]

MIDDLEWARE = [
    # First: /healthz and /readyz answer probes that come by IP, before host checks (portal.health).
    "portal.health.HealthProbeMiddleware",
    "portal.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.NoStoreForSignedInMiddleware",
    "portal.middleware.FormEncodingMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.middleware.FormKeyMiddleware",
    "portal.middleware.HtmxSignInRedirectMiddleware",
    "portal.middleware.PasswordChangeRequiredMiddleware",
    "portal.middleware.TimezoneMiddleware",
    "portal.middleware.NotFoundPageMiddleware",
    "portal.middleware.IoTErrorMiddleware",
    # Last, as django-axes asks, so it sees the outcome of every sign-in.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "portal.context_processors.portal",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL or f"sqlite:///{DATA_DIR / 'portal.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers (threads of one instance) wait their turn instead of failing with
    # "database is locked": take the write lock when a transaction starts, wait for it, and
    # let readers carry on during a write (WAL).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # The test database is a file, not Django's in-memory default: a live server shares one
    # in-memory connection among its threads, and a page's parallel panel requests then
    # trip over each other ("bad parameter or other API misuse", sessions read as empty).
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-portal.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("PORTAL_CACHE_PREFIX", "portal"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend with fewer queries per signed-in page (portal/backends.py).
    "portal.backends.PortalBackend",
]
# Argon2 first: Django documents it as the stronger choice, and one hash costs about a tenth
# of PBKDF2's 1,500,000 iterations (docs/PERFORMANCE.md, "Sign-in"). PBKDF2 stays in the list
# so passwords stored before keep working; Django re-hashes each with Argon2 at its next
# successful sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The portal's own page when a form arrives without its CSRF token (portal/middleware.py).
CSRF_FAILURE_VIEW = "portal.middleware.csrf_failure"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "devices:list"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("PORTAL_SESSION_SECONDS", 8 * 3600, minimum=60)
SESSION_ENGINE = "portal.sessions"  # database sessions, read with a precompiled query

# Sign-in lockout (django-axes): failures counted per username and address, in the database,
# so several instances share the count.
AXES_FAILURE_LIMIT = env_int("PORTAL_LOCKOUT_FAILURES", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_float("PORTAL_LOCKOUT_MINUTES", 15, minimum=0.01))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "portal/locked_out.html"
AXES_VERBOSE = False
# The client's address, for the lockout and the audit log alike (portal/proxy.py): with N
# proxies in front, the Nth address from the right of X-Forwarded-For; with 0, the peer's.
PORTAL_PROXY_COUNT = env_int("PORTAL_PROXY_COUNT", 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "portal.proxy.client_address"

LANGUAGE_CODE = "en"
TIME_ZONE = env_str("PORTAL_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "portal.storage.StaticStorage"
        )
    },
}

# Uploads: firmware is at most 4 MB; anything over 1 MB goes to a temporary file rather than
# memory, so a worker holds few copies of a large upload.
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Security headers. HTTPS is assumed behind a proxy in production (docs/deploy.md).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("PORTAL_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# The proxy redirects HTTP to HTTPS; the portal does too, in case a request gets past it.
SECURE_SSL_REDIRECT = env_bool("PORTAL_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("PORTAL_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("PORTAL_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("PORTAL_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Preloading is a commitment for the whole domain that an operator opts into; its absence
    # is a choice, not a finding of `check --deploy`.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
if env_bool("PORTAL_BEHIND_TLS_PROXY", not DEBUG):
    SECURE_PROXY_SSL_HEADER = (
        env_str("PORTAL_PROXY_SSL_HEADER", "HTTP_X_FORWARDED_PROTO"),
        "https",
    )

# Content Security Policy, strict: no inline scripts or styles anywhere.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

# The upstream device API.
IOT_API_BASE_URL = env_str("IOT_API_BASE_URL", "https://api.iotbackend.cloud").rstrip("/")
# The upstream is not trusted with the portal's resources (docs/security.md, "Limits on the
# upstream"): every call has a total deadline (seconds: connect, headers and body, every page
# and retry of a list read together), every answer a size limit on its decoded bytes, and a
# list a page limit.
IOT_API_TIMEOUT = env_float("IOT_API_TIMEOUT", 10.0, minimum=0.1)
IOT_API_CONNECT_TIMEOUT = env_float("IOT_API_CONNECT_TIMEOUT", 3.05, minimum=0.1)
IOT_API_READ_RETRIES = env_int("IOT_API_READ_RETRIES", 2, minimum=0)
IOT_API_UPLOAD_TIMEOUT = env_float("IOT_API_UPLOAD_TIMEOUT", 60.0, minimum=1)
# 8 MiB: a 5,000-device list is about 2 MiB.
IOT_API_MAX_BODY_BYTES = env_int("IOT_API_MAX_BODY_BYTES", 8 * 1024 * 1024, minimum=64 * 1024)
IOT_API_MAX_PAGES = env_int("IOT_API_MAX_PAGES", 100, minimum=1)
# How long identical reads for one token are shared (seconds; 0 turns the cache off).
PORTAL_READ_CACHE_SECONDS = env_float("PORTAL_READ_CACHE_SECONDS", 5.0, minimum=0)
# A device's page starts its panels' reads beside its own, on a pool of this many threads per
# process (portal/iot/parallel.py), and draws each panel in the page when its reads are done
# at most PORTAL_PANEL_WAIT_SECONDS after the page's own read; a slower panel loads after.
PORTAL_READ_THREADS = env_int("PORTAL_READ_THREADS", 8, minimum=1)
PORTAL_PANEL_WAIT_SECONDS = env_float("PORTAL_PANEL_WAIT_SECONDS", 0.25, minimum=0)
# How often device pages refresh their live fields (seconds; 0 turns auto-refresh off).
PORTAL_REFRESH_SECONDS = env_int("PORTAL_REFRESH_SECONDS", 15, minimum=0)
# How long the firmware panel follows a device after an OTA trigger (seconds).
PORTAL_OTA_FOLLOW_SECONDS = env_int("PORTAL_OTA_FOLLOW_SECONDS", 300, minimum=5)
PORTAL_PAGE_SIZE = env_int("PORTAL_PAGE_SIZE", 50, minimum=5)
# A device whose answer carries no online flag (the device list never does) counts as "seen
# recently" when its last_seen_at is at most this old (seconds): portal/presence.py.
PORTAL_ONLINE_WINDOW_SECONDS = env_int("PORTAL_ONLINE_WINDOW_SECONDS", 300, minimum=1)
# Whether users may enter their own API token on the "My API token" page.
PORTAL_ALLOW_SELF_TOKEN = env_bool("PORTAL_ALLOW_SELF_TOKEN", False)
# Fleet work (fleet/): background jobs on Django's tasks framework, the database as the queue.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "fleet"],
    }
}
# Upstream calls a minute per token for everything the portal does (the vendor's budget), and
# how many of them fleet work leaves to people using the pages.
PORTAL_CALLS_PER_MINUTE = env_int("PORTAL_CALLS_PER_MINUTE", 60, minimum=0)  # 0: no budget
PORTAL_CALLS_RESERVED_FOR_PAGES = env_int("PORTAL_CALLS_RESERVED_FOR_PAGES", 12, minimum=0)
# Fleet calls in flight at once per token, over every worker and instance.
PORTAL_FLEET_MAX_IN_FLIGHT = env_int("PORTAL_FLEET_MAX_IN_FLIGHT", 8, minimum=1)
# A worker that has not said it is alive for this long is taken for dead: what it had in
# flight becomes "outcome unknown" and its jobs go to the next worker (seconds).
PORTAL_FLEET_WORKER_TIMEOUT = env_float("PORTAL_FLEET_WORKER_TIMEOUT", 30.0, minimum=2)
# The longest a job waits for offline devices to come back, when asked to (minutes).
PORTAL_FLEET_MAX_WAIT_MINUTES = env_int("PORTAL_FLEET_MAX_WAIT_MINUTES", 60, minimum=1)
# Rollouts (fleet/rollout_engine.py): how often a device being followed is read (seconds), and
# above how many devices a rollout needs a second maintainer's approval (0: never).
PORTAL_ROLLOUT_POLL_SECONDS = env_float("PORTAL_ROLLOUT_POLL_SECONDS", 10.0, minimum=0.05)
PORTAL_ROLLOUT_APPROVAL_ABOVE = env_int("PORTAL_ROLLOUT_APPROVAL_ABOVE", 0, minimum=0)
# Devices of one rollout between their first step and their end at once (over every worker):
# what bounds the follow reads in flight, and the failures a threshold can be overrun by.
PORTAL_ROLLOUT_MAX_ACTIVE = env_int("PORTAL_ROLLOUT_MAX_ACTIVE", 20, minimum=1)
PORTAL_AUDIT_RETENTION_DAYS = env_int("PORTAL_AUDIT_RETENTION_DAYS", 365, minimum=1)

# Error reports (the technical 500 page in DEBUG, the admin mails) never show a token.
DEFAULT_EXCEPTION_REPORTER_FILTER = "portal.debug.TokenSafeFilter"
DEFAULT_EXCEPTION_REPORTER = "portal.debug.TokenSafeReporter"

LOG_LEVEL = env_str("PORTAL_LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "portal.logs.RequestContextFilter"}},
    "formatters": {"json": {"()": "portal.logs.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
