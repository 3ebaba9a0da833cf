"""Fixtures: one migrated database per test run (SQLite, or PostgreSQL when asked), emptied per test.

The backend is SQLite unless RECTIFY_TEST_BACKEND=postgresql; then TEST_DATABASE_URL names a server
where this run creates its own database and drops it at the end.
"""

import contextlib
import contextvars
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import has_app_context
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from config.settings import Testing
from models import db
from tests.contract import ContractClient
from tests.factories import World

BACKEND = os.environ.get("RECTIFY_TEST_BACKEND", "sqlite")
KEEP_TABLES = {"alembic_version", "calendar_days", "calendar_version", "work_periods"}
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Asia/Shanghai


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="PostgreSQL-only: run with RECTIFY_TEST_BACKEND=postgresql")
    for item in items:
        if "tests/pg/" in item.nodeid.replace(os.sep, "/") and BACKEND != "postgresql":
            item.add_marker(skip)


@contextlib.contextmanager
def own_database(prefix: str, sqlite_dir) -> Iterator[str]:
    """The URL of a database of our own: a SQLite file in `sqlite_dir`, or, on PostgreSQL, a new database
    on TEST_DATABASE_URL's server, dropped afterwards."""
    if BACKEND != "postgresql":
        yield f"sqlite:///{sqlite_dir / f'{prefix}.db'}"
        return
    server = make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql+psycopg")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    with own_database("rectify_test", tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def scratch(tmp_path):
    """An app on an empty database of its own, for migration tests; yields the migrations directory."""
    with own_database("rectify_scratch", tmp_path) as url:
        config = type("ScratchConfig", (Testing,), {"SQLALCHEMY_DATABASE_URI": url,
                                                    "ATTACHMENT_DIR": str(tmp_path / "attachments")})
        app = create_app(config)
        with app.app_context():
            yield app.extensions["migrate"].directory
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    # WEBHOOK_ALLOW_PRIVATE: the suite's receivers listen on 127.0.0.1 (tests of the refusal turn it off).
    config = type("TestConfig", (Testing,), {"SQLALCHEMY_DATABASE_URI": database_url, "WEBHOOK_ALLOW_PRIVATE": True,
                                             "ATTACHMENT_DIR": str(tmp_path_factory.mktemp("attachments"))})
    app = create_app(config)
    app.test_client_class = ContractClient  # every response a test gets must match /openapi.json
    with app.app_context():
        upgrade(directory=str(app.extensions["migrate"].directory))
        from workflow.calendar import default_years, seed_calendar
        seed_calendar(db.session, years=default_years(), now=NOW)
        db.session.commit()
    app.extensions["rectify_clock"] = lambda: app.config["TEST_NOW"]
    app.config["TEST_NOW"] = NOW
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean(request):
    """Empty every table but the calendar after each test that used the database."""
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    app.config["TEST_NOW"] = NOW
    with app.app_context():
        db.session.remove()
        tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in KEEP_TABLES]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # problem_events refuses DELETE (an append-only trigger); a superuser may skip triggers
                # for this one transaction, as a replica applying changes does.
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            for table in tables:  # DELETE beats TRUNCATE on tables this small
                conn.execute(table.delete())
            if conn.dialect.name == "postgresql":
                conn.execute(text(RESET_SEQUENCES))


# Ids start at 1 again in every test, as they do on SQLite after the tables are emptied.
RESET_SEQUENCES = """
DO $$ DECLARE s record; BEGIN
  FOR s IN SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public' LOOP
    EXECUTE format('ALTER SEQUENCE %I RESTART', s.sequence_name);
  END LOOP;
END $$;
"""


@pytest.fixture
def ctx(app):
    """An application context with a clean session, for workflow tests."""
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def world(ctx) -> World:
    """A small district: units, grids, points, categories and one user of each kind."""
    world = World.build(now=NOW)
    db.session.commit()
    return world


class FreshContextClient(ContractClient):
    """Runs each request in its own app context, as in production (and checks its response against the
    served /openapi.json, tests/contract.py).

    The `world` fixture keeps an app context pushed, and Flask reuses a pushed context for a request,
    so without this every request of a test would share one `g` and one session with the test.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            db.session.commit()  # end the test's read transaction: later reads see what requests wrote
        kwargs.setdefault("buffered", True)  # consume streamed bodies inside the request's own context
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def client(app):
    return FreshContextClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
