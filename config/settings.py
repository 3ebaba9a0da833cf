"""Configuration classes: the only place that reads os.environ."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = ROOT / "config" / "defaults"


def _sqlite_url(name: str) -> str:
    return f"sqlite:///{ROOT / 'instance' / name}"


# Keys that are public (the old development default, the example file's placeholder) or too short to guess hard:
# production refuses them, development replaces them by a random key kept in instance/secret_key.
DEV_SECRET = "dev-only-not-secret"
PLACEHOLDER_SECRETS = frozenset({"", DEV_SECRET, "CHANGE-ME", "change-me", "secret"})
MIN_SECRET_LENGTH = 32


def weak_secret(key: str | None) -> bool:
    """Whether `key` must not sign anything: unset, a known placeholder, or shorter than 32 characters."""
    return key is None or key in PLACEHOLDER_SECRETS or len(key) < MIN_SECRET_LENGTH


class Base:
    SECRET_KEY = os.environ.get("SECRET_KEY", "")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or _sqlite_url("rectify.db")
    # hide_parameters: an error's message never carries the values it was writing (tokens, secrets) into a log.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True, "hide_parameters": True}
    # When the database is unreachable, a request gives up after these (PostgreSQL) and answers 503 with
    # Retry-After instead of hanging: seconds to open a connection (libpq counts whole seconds, at least 2)
    # and seconds to wait for a free connection from the pool.
    DATABASE_CONNECT_TIMEOUT = int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "3"))
    DATABASE_POOL_TIMEOUT = float(os.environ.get("DATABASE_POOL_TIMEOUT", "5"))
    DATABASE_RETRY_AFTER_SECONDS = int(os.environ.get("DATABASE_RETRY_AFTER_SECONDS", "2"))
    RECTIFY_TIMEZONE = os.environ.get("RECTIFY_TIMEZONE", "Asia/Shanghai")
    # Failed authentications: after AUTH_FAILURE_LIMIT in AUTH_FAILURE_WINDOW_SECONDS from one address, it
    # gets 429 with Retry-After (counted per worker process). TRUSTED_PROXIES: how many reverse proxies
    # append to X-Forwarded-For in front of us (0: take the peer address), so the client address is right.
    AUTH_FAILURE_LIMIT = int(os.environ.get("AUTH_FAILURE_LIMIT", "20"))
    AUTH_FAILURE_WINDOW_SECONDS = int(os.environ.get("AUTH_FAILURE_WINDOW_SECONDS", "300"))
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    # Strict-Transport-Security max-age, sent only when set (> 0): when clients reach us over HTTPS only.
    HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", "0"))
    # The console's session cookie: signed with SECRET_KEY, HttpOnly, SameSite=Lax, Secure outside development
    # (production serves HTTPS); a session idle this long signs out.
    SESSION_COOKIE_NAME = "rectify_console"
    SESSION_COOKIE_PATH = "/console"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "false").lower() in ("1", "true", "yes")
    CONSOLE_IDLE_SECONDS = int(os.environ.get("CONSOLE_IDLE_SECONDS", "1800"))
    # The weighted indicators of the unit evaluation (综合评价).
    EVALUATION_FILE = os.environ.get("RECTIFY_EVALUATION_FILE") or str(DEFAULTS / "evaluation.toml")
    SCHEDULER_ENABLED = os.environ.get("SCHEDULER_ENABLED", "false").lower() in ("1", "true", "yes")
    # Uploads may be this large; JSON bodies are held to JSON_MAX_BYTES by a hook.
    ATTACHMENT_MAX_BYTES = int(os.environ.get("ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
    MAX_CONTENT_LENGTH = ATTACHMENT_MAX_BYTES + 64 * 1024
    JSON_MAX_BYTES = 1024 * 1024
    ATTACHMENT_DIR = os.environ.get("ATTACHMENT_DIR") or str(ROOT / "instance" / "attachments")
    ATTACHMENT_FAR_METRES = 200
    # Photos whose header announces more pixels are refused (413) before anything is decoded.
    PHOTO_MAX_PIXELS = int(os.environ.get("PHOTO_MAX_PIXELS", "50000000"))
    # Public and hotline reports outside every grid boundary go to the grid of the nearest point within this.
    INTAKE_NEAREST_POINT_METRES = float(os.environ.get("INTAKE_NEAREST_POINT_METRES", "500"))
    # Open311: requests per API key (posts) and per client address (reads) in a sliding minute, per process.
    OPEN311_POSTS_PER_MINUTE = int(os.environ.get("OPEN311_POSTS_PER_MINUTE", "30"))
    OPEN311_READS_PER_MINUTE = int(os.environ.get("OPEN311_READS_PER_MINUTE", "120"))
    OPEN311_MAX_BYTES = 64 * 1024
    SIGNED_URL_SECONDS = 900
    # Webhooks toward private, loopback or link-local addresses (a receiver on this machine or the office
    # network): refused unless set explicitly, in every environment (tests and a local demo receiver set it).
    WEBHOOK_ALLOW_PRIVATE = os.environ.get("WEBHOOK_ALLOW_PRIVATE", "false").lower() in ("1", "true", "yes")
    API_TITLE = "Rectify"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    # /docs is api/docs.py: Swagger UI from the pinned flask-swagger-ui wheel, not flask-smorest's CDN page
    JSON_SORT_KEYS = False
    RUN_HOST = os.environ.get("HOST", "127.0.0.1")
    RUN_PORT = int(os.environ.get("PORT", "5000"))
    # The lease heartbeat, the lease's life, and (for tests and demos) one interval for every job.
    SCHEDULER_TICK_SECONDS = float(os.environ.get("SCHEDULER_TICK_SECONDS", "30"))
    SCHEDULER_LEASE_SECONDS = float(os.environ.get("SCHEDULER_LEASE_SECONDS", "90"))
    SCHEDULER_JOB_SECONDS = float(os.environ.get("SCHEDULER_JOB_SECONDS", "0")) or None
    # Logs: "json" (one object a line: production) or "text" (development); LOG_CONFIGURE False leaves the
    # logging setup to the caller (tests).
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
    LOG_CONFIGURE = True
    # /metrics: with METRICS_TOKEN set it answers `Authorization: Bearer <METRICS_TOKEN>` from anywhere,
    # without it only loopback callers; METRICS_ENABLED false hides it (404). PROMETHEUS_MULTIPROC_DIR:
    # where gunicorn workers and the scheduler process keep their counts (prometheus-client multiprocess mode).
    METRICS_ENABLED = os.environ.get("METRICS_ENABLED", "true").lower() in ("1", "true", "yes")
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
    PROMETHEUS_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    # Links in chat messages lead here (the address people reach the service at).
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")
    # E-mail channels (the daily digest): this SMTP server, STARTTLS before the login (SMTP_CA_FILE: trust a
    # private relay's CA). Without SMTP_HOST e-mail deliveries fail (and are retried, then dead-lettered).
    SMTP_HOST = os.environ.get("SMTP_HOST", "")
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "587"))
    SMTP_USERNAME = os.environ.get("SMTP_USERNAME", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    SMTP_FROM = os.environ.get("SMTP_FROM", "rectify@localhost")
    SMTP_STARTTLS = os.environ.get("SMTP_STARTTLS", "true").lower() in ("1", "true", "yes")
    SMTP_CA_FILE = os.environ.get("SMTP_CA_FILE", "")
    # The echo endpoint that stands in for a WeCom robot in development (POST /dev/robot-echo): logs, answers
    # {"errcode": 0}; the demo's robot points at it, the one private address deliveries may reach without
    # WEBHOOK_ALLOW_PRIVATE.
    DEV_ROBOT_ECHO = False


class Development(Base):
    DEBUG = False
    DEV_ROBOT_ECHO = True


class Testing(Base):
    TESTING = True
    SECRET_KEY = "testing-only-secret-key-of-forty-characters"
    # One app serves the whole test session: tests of the limit lower it and clear the counts themselves.
    AUTH_FAILURE_LIMIT = 1_000_000
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or "sqlite://"
    SCHEDULER_ENABLED = False
    LOG_CONFIGURE = False


class Production(Base):
    REQUIRE_SECRET_KEY = True
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "true").lower() in ("1", "true", "yes")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5,
                                 "pool_recycle": 1800, "hide_parameters": True}
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")


CONFIGS = {"development": Development, "testing": Testing, "production": Production}


def config_from_env():
    """The config class named by RECTIFY_ENV (development by default)."""
    return CONFIGS[os.environ.get("RECTIFY_ENV", "development")]


def embedded_config():
    """`python app.py`: the configured class with the scheduler in-process unless told otherwise."""
    enabled = os.environ.get("SCHEDULER_ENABLED", "true").lower() in ("1", "true", "yes")
    return type("Embedded", (config_from_env(),), {"SCHEDULER_ENABLED": enabled})
