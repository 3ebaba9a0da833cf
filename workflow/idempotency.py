"""Idempotency-Key records: the first final response to a request, replayed to its retries."""

import functools
import hashlib
import json
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select

from models import IdempotencyRecord
from models.base import db, dialect_name, upsert
from workflow.errors import IdempotencyInFlight, Invalid

KEEP = timedelta(days=7)
REPLACED = ("request_hash", "status", "body", "headers", "created_at", "expires_at")
COLUMNS = ("user_id", "key_hash", *REPLACED)


def fingerprint(method: str, path: str, body: bytes) -> str:
    """A hash of the request that ignores JSON key order and whitespace."""
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body.decode("latin-1")
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def claim(*, user_id: int, key: str) -> None:
    """Hold the key for this transaction; IdempotencyInFlight (409) while another request holds it.

    PostgreSQL: a transaction-scoped advisory lock. SQLite runs one writer at a time, so a duplicate
    simply waits for the first to commit and then finds its record.
    """
    if dialect_name() != "postgresql":
        return
    lock_id = int.from_bytes(hashlib.sha256(f"{user_id}:{key}".encode()).digest()[:8], "big", signed=True)
    if not db.session.execute(select(func.pg_try_advisory_xact_lock(lock_id))).scalar():
        raise IdempotencyInFlight("a request with this Idempotency-Key is still being processed; retry shortly")


def find(*, user_id: int, key: str, request_hash: str, now: datetime) -> IdempotencyRecord | None:
    """The stored response for this key, None if there is none; Invalid if it was for another request."""
    stmt = select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id,
                                           IdempotencyRecord.key_hash == _key_hash(key),
                                           IdempotencyRecord.expires_at > now)
    record = db.session.scalars(stmt).first()
    if record is not None and record.request_hash != request_hash:
        raise Invalid("this Idempotency-Key was used for another request",
                      errors={"Idempotency-Key": ["already used with another method, path or body"]})
    return record


def store(*, user_id: int, key: str, request_hash: str, status: int, body: str, headers: dict,
          now: datetime) -> bool:
    """Keep the final response for `KEEP`, in one statement (the caller commits with its change).

    An expired record of the same key is replaced; False when a live one is there (a concurrent request with
    the same key committed first: answer as it did).
    """
    values = {"user_id": user_id, "key_hash": _key_hash(key), "request_hash": request_hash, "status": status,
              "body": body, "headers": headers, "created_at": now, "expires_at": now + KEEP}
    return db.session.execute(_store_statement(dialect_name()), values).first() is not None


@functools.cache
def _store_statement(dialect: str):
    """The upsert, built once per dialect (SQLAlchemy then reuses its compiled form); `created_at` doubles as
    the instant that decides whether the record in the way has expired."""
    columns = IdempotencyRecord.__table__.c
    stmt = upsert(IdempotencyRecord).values({name: bindparam(name, type_=columns[name].type) for name in COLUMNS})
    return stmt.on_conflict_do_update(
        index_elements=["user_id", "key_hash"], set_={name: stmt.excluded[name] for name in REPLACED},
        where=IdempotencyRecord.expires_at <= stmt.excluded.created_at).returning(IdempotencyRecord.id)


def purge(*, now: datetime) -> int:
    """Forget expired records; returns how many."""
    result = db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))
    return result.rowcount
