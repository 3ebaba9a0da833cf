"""Configuration classes: the only place that reads os.environ."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = ROOT / "config" / "defaults"


def _sqlite_url(name: str) -> str:
    return f"sqlite:///{ROOT / 'instance' / name}"


DEV_SECRET = "dev-only-not-secret"


class Base:
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET)
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
    # The weighted indicators of the unit evaluation (综合评价).
    EVALUATION_FILE = os.environ.get("RECTIFY_EVALUATION_FILE") or str(DEFAULTS / "evaluation.toml")
    SCHEDULER_ENABLED = os.environ.get("SCHEDULER_ENABLED", "false").lower() in ("1", "true", "yes")
    # Uploads may be this large; JSON bodies are held to JSON_MAX_BYTES by a hook.
    ATTACHMENT_MAX_BYTES = int(os.environ.get("ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
    MAX_CONTENT_LENGTH = ATTACHMENT_MAX_BYTES + 64 * 1024
    JSON_MAX_BYTES = 1024 * 1024
    ATTACHMENT_DIR = os.environ.get("ATTACHMENT_DIR") or str(ROOT / "instance" / "attachments")
    ATTACHMENT_FAR_METRES = 200
    SIGNED_URL_SECONDS = 900
    API_TITLE = "Rectify"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist/"
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
    # Webhook URLs given by users are never called at private, loopback or link-local addresses; development
    # turns this on for the dev server's own echo endpoint (the demo's robot), never production.
    WEBHOOK_ALLOW_PRIVATE_URLS = False
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
    # {"errcode": 0}.
    DEV_ROBOT_ECHO = False


class Development(Base):
    DEBUG = False
    WEBHOOK_ALLOW_PRIVATE_URLS = True
    DEV_ROBOT_ECHO = True


class Testing(Base):
    TESTING = True
    # One app serves the whole test session: tests of the limit lower it and clear the counts themselves.
    AUTH_FAILURE_LIMIT = 1_000_000
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or "sqlite://"
    SCHEDULER_ENABLED = False
    LOG_CONFIGURE = False


class Production(Base):
    REQUIRE_SECRET_KEY = True
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
