"""Rectify: create_app() wires the database, the API, the CLI and (when enabled) the scheduler."""

import logging

from flask import Flask
from flask_migrate import Migrate
from sqlalchemy import event
from sqlalchemy.engine import Engine

from config.settings import ROOT, config_from_env

migrate = Migrate(directory=str(ROOT / "migrations"))


def create_app(config=None) -> Flask:
    """Build the app from a config class (default: the one RECTIFY_ENV names)."""
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    app.config.from_object(config or config_from_env())
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    _init_database(app)
    import api
    api.init_app(app)
    _init_cli(app)
    if app.config["SCHEDULER_ENABLED"]:
        from schedules.runner import start_in_process
        app.extensions["rectify_scheduler"] = start_in_process(app)
    return app


def _init_database(app: Flask) -> None:
    import models
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        (ROOT / "instance").mkdir(exist_ok=True)
    models.db.init_app(app)
    migrate.init_app(app, models.db, render_as_batch=True)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite: WAL for concurrent readers, a busy timeout for writers, enforced foreign keys."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        # Let SQLAlchemy, not the driver, begin transactions, so SAVEPOINTs work (SQLAlchemy docs).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection):
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN")


def _init_cli(app: Flask) -> None:
    from cli import calendar_cli, seed_cli, users_cli
    from schedules.cli import scheduler_cli
    for group in (seed_cli, users_cli, calendar_cli, scheduler_cli):
        app.cli.add_command(group)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    from cli import first_run
    first_run()
