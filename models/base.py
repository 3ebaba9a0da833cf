"""The unbound SQLAlchemy handle, the declarative base and column types shared by every model."""

from contextvars import ContextVar
from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, TypeDecorator, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.attributes import set_committed_value

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store timezone-aware values only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The real clock; only the boundary (a request, the scheduler) calls it."""
    return datetime.now(UTC)


# How SQLite transactions begin: IMMEDIATE (take the write lock, wait for it) unless the caller knows
# it only reads (GET requests set DEFERRED). PostgreSQL ignores it.
sqlite_begin_mode: ContextVar[str] = ContextVar("sqlite_begin_mode", default="IMMEDIATE")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


def dialect_name() -> str:
    """'postgresql' or 'sqlite': the few statements that differ (upserts) ask this."""
    return db.session.get_bind().dialect.name


def mark_written(row, values: dict) -> None:
    """Give a loaded object the values our own UPDATE just wrote, so the ORM neither writes them again nor
    counts them as changes (every compare-and-set and the sweep's executemany end with this)."""
    for key, value in values.items():
        set_committed_value(row, key, value)


def upsert(model):
    """INSERT with ON CONFLICT clauses, in the dialect of the session's database."""
    from sqlalchemy.dialects import postgresql, sqlite
    return (postgresql if dialect_name() == "postgresql" else sqlite).insert(model)


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
    """SQLite: take the write lock up front (IMMEDIATE) unless the work is read-only.

    A deferred transaction that reads, then writes, fails at once with "database is locked" when
    another writer committed in between; an immediate one waits its turn (busy_timeout).
    """
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"BEGIN {sqlite_begin_mode.get()}")
