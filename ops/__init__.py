"""Running it: logs, request ids, metrics, backups. Wired into the app by `init_app` (app.py) before the API,
so every request has its id before anything else runs."""

import functools

from flask import Flask


def init_app(app: Flask) -> None:
    """Logging (unless the caller set it up), request ids and access lines, metrics, and what /healthz and
    /metrics compare against: each job's interval and the code's migration head."""
    from ops import logs, metrics, requests
    from schedules.jobs import intervals
    if app.config["LOG_CONFIGURE"]:
        logs.configure(fmt=app.config["LOG_FORMAT"], level=app.config["LOG_LEVEL"])
    requests.init_app(app)
    metrics.watch_sessions()
    with app.app_context():
        from models.base import db
        metrics.watch_pool(db.engine)
    app.extensions["rectify_job_intervals"] = intervals(app.config)
    app.extensions["rectify_migration_heads"] = functools.cache(functools.partial(migration_heads, app))


def migration_heads(app: Flask) -> set[str]:
    """The head revision(s) of the migrations this code carries."""
    from alembic.script import ScriptDirectory
    return set(ScriptDirectory(app.extensions["migrate"].directory).get_heads())
