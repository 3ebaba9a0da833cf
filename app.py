"""Rectify: create_app() wires the database, the API, the CLI and (when enabled) the scheduler."""

import logging
import os
import secrets
import time
from pathlib import Path

from flask import Flask
from flask_migrate import Migrate
from werkzeug.middleware.proxy_fix import ProxyFix

from config.settings import ROOT, config_from_env, weak_secret

migrate = Migrate(directory=str(ROOT / "migrations"))


def create_app(config=None) -> Flask:
    """Build the app from a config class (default: the one RECTIFY_ENV names)."""
    # No app static folder: the console serves its stylesheet from its blueprint (/console/static/).
    app = Flask(__name__, instance_path=str(ROOT / "instance"), static_folder=None)
    app.config.from_object(config or config_from_env())
    if proxies := app.config.get("TRUSTED_PROXIES", 0):  # the client address is the proxies' X-Forwarded-For
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    _secret_key(app)
    from api.json_provider import OrjsonProvider
    app.json = OrjsonProvider(app)  # Flask's JSON text, written by orjson (api/json_provider.py)
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    _init_database(app)
    from workflow.evidence.attachments import limit_pixels
    from workflow.evidence.storage import LocalStorage
    from workflow.ledger.reports import load_indicators
    app.extensions["rectify_storage"] = LocalStorage(app.config["ATTACHMENT_DIR"])
    limit_pixels(app.config["PHOTO_MAX_PIXELS"])
    app.config["EVALUATION_INDICATORS"] = load_indicators(app.config["EVALUATION_FILE"])
    import api
    import console
    import ops
    from api.security import add_security_headers
    ops.init_app(app)  # first: the request id exists before authentication runs
    api.init_app(app)
    console.init_app(app)
    import open311
    open311.init_app(app)
    app.after_request(add_security_headers)
    _init_cli(app)
    if app.config["SCHEDULER_ENABLED"]:
        from schedules.runner import start_in_process
        app.extensions["rectify_scheduler"] = start_in_process(app)
    return app


def _secret_key(app: Flask) -> None:
    """A real key signs photo URLs: production refuses to start without one; elsewhere (development, a bare
    `gunicorn "app:create_app()"`) a random key is made once and kept in instance/secret_key, shared by every
    process of this instance (docs/decisions/0022)."""
    if not weak_secret(app.config.get("SECRET_KEY")):
        return
    if app.config.get("REQUIRE_SECRET_KEY"):
        raise RuntimeError("set SECRET_KEY to a random value of at least 32 characters: production refuses to "
                           "run with none, a placeholder or the old development secret")
    path = Path(app.instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # the first process of this instance makes it; the others (workers, the scheduler) read it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    for _ in range(50):  # a concurrent first process may not have written it yet
        if key := path.read_text().strip():
            app.config["SECRET_KEY"] = key
            return
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty: delete it, or set SECRET_KEY")


def _init_database(app: Flask) -> None:
    import models
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        (ROOT / "instance").mkdir(exist_ok=True)
        # SQLite's pools take no size: keep the production pool settings for PostgreSQL only.
        options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {k: v for k, v in options.items()
                                                   if k not in ("pool_size", "max_overflow")}
    else:  # a database that does not answer fails a request within these timeouts (then 503)
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
        options.setdefault("pool_timeout", app.config["DATABASE_POOL_TIMEOUT"])
        options["connect_args"] = {"connect_timeout": app.config["DATABASE_CONNECT_TIMEOUT"]} | \
            options.get("connect_args", {})
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    models.db.init_app(app)
    migrate.init_app(app, models.db, render_as_batch=True)


def _init_cli(app: Flask) -> None:
    from cli import (
        audit_cli,
        backup_command,
        calendar_cli,
        import_cli,
        open311_cli,
        restore_command,
        seed_cli,
        users_cli,
    )
    from schedules.cli import scheduler_cli
    for group in (seed_cli, users_cli, calendar_cli, scheduler_cli, audit_cli, import_cli, backup_command,
                  restore_command, open311_cli):
        app.cli.add_command(group)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    from cli import first_run
    first_run()
