"""Idempotency-Key records: the first final response to a request, replayed to its retries."""

import functools
import hashlib
import json
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, and_, bindparam, delete, func, insert, literal, select, update

from models import IdempotencyRecord
from models.base import db, dialect_name, upsert
from workflow import waiting
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


def claim(*, user_id: int, key: str, request_hash: str, now: datetime) -> IdempotencyRecord | None:
    """Hold the key for this transaction and return its stored response (as `find`), in one statement;
    IdempotencyInFlight (409) while another request holds the key.

    PostgreSQL: a transaction-scoped advisory lock, taken in the statement that reads the record. The statement
    reads a snapshot taken just before the lock: a request holding the key that commits in between is not
    seen, and this one runs — then storing its answer finds the key taken, and it answers as the first did
    (`store` returns False; api/write.py). SQLite runs one writer at a time, so a duplicate simply waits for
    the first to commit and then finds its record.
    """
    if dialect_name() != "postgresql":
        return find(user_id=user_id, key=key, request_hash=request_hash, now=now)
    lock_id = int.from_bytes(hashlib.sha256(f"{user_id}:{key}".encode()).digest()[:8], "big", signed=True)
    held, record = db.session.execute(_claim_statement(), {"lock_id": lock_id, "user_id": user_id,
                                                         "key_hash": _key_hash(key), "now": now}).one()
    if not held:
        raise IdempotencyInFlight("a request with this Idempotency-Key is still being processed; retry shortly")
    return _checked(record, request_hash)


@functools.cache
def _claim_statement():
    one = select(literal(1).label("one")).subquery("one")
    stored = and_(IdempotencyRecord.user_id == bindparam("user_id"),
                  IdempotencyRecord.key_hash == bindparam("key_hash"),
                  IdempotencyRecord.expires_at > bindparam("now", type_=IdempotencyRecord.expires_at.type))
    return (select(func.pg_try_advisory_xact_lock(bindparam("lock_id", type_=BigInteger)), IdempotencyRecord)
            .select_from(one.outerjoin(IdempotencyRecord, stored)))


def find(*, user_id: int, key: str, request_hash: str, now: datetime) -> IdempotencyRecord | None:
    """The stored response for this key, None if there is none; Invalid if it was for another request."""
    stmt = select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id,
                                           IdempotencyRecord.key_hash == _key_hash(key),
                                           IdempotencyRecord.expires_at > now)
    return _checked(db.session.scalars(stmt).first(), request_hash)


def _checked(record: IdempotencyRecord | None, request_hash: str) -> IdempotencyRecord | None:
    if record is not None and record.request_hash != request_hash:
        raise Invalid("this Idempotency-Key was used for another request",
                      errors={"Idempotency-Key": ["already used with another method, path or body"]})
    return record


def store(*, user_id: int, key: str, request_hash: str, status: int, body: str, headers: dict,
          now: datetime) -> bool:
    """Keep the final response for `KEEP`, in one statement (the caller commits with its change).

    An expired record of the same key is replaced; False when a live one is there (a concurrent request with
    the same key committed first: answer as it did). A write held back for the answer (workflow/waiting.py)
    is sent now with the record in it.
    """
    values = {"user_id": user_id, "key_hash": _key_hash(key), "request_hash": request_hash, "status": status,
              "body": body, "headers": headers, "created_at": now, "expires_at": now + KEEP}
    carried = waiting.flush(record=values)  # a transition's write waiting for its answer takes the record along
    if carried is not None:
        return carried
    dialect = dialect_name()
    parameters = {f"record_{name}": value for name, value in values.items()} if dialect == "postgresql" else values
    return db.session.execute(_store_statement(dialect), parameters).first() is not None


@functools.cache
def _store_statement(dialect: str):
    """The record's statement, built once per dialect; `created_at` doubles as the instant that decides whether
    the record in the way has expired. PostgreSQL: `record_writes` (cached compiled form); SQLite: an upsert
    (SQLAlchemy compiles a dialect's upsert anew each time; SQLite is not the scale path)."""
    if dialect == "postgresql":
        renewed, kept = record_writes()
        return select(kept.c.id).union_all(select(renewed.c.id))
    columns = IdempotencyRecord.__table__.c
    stmt = upsert(IdempotencyRecord).values({name: bindparam(name, type_=columns[name].type) for name in COLUMNS})
    return stmt.on_conflict_do_update(
        index_elements=["user_id", "key_hash"], set_={name: stmt.excluded[name] for name in REPLACED},
        where=IdempotencyRecord.expires_at <= stmt.excluded.created_at).returning(IdempotencyRecord.id)


def record_writes(gate=None) -> tuple:
    """The key's record as two data-modifying CTEs (PostgreSQL), `renewed` and `kept`: the key's expired record
    renewed, or a new one where the key has none; neither returns a row when a live record is there. Parameters
    `record_<column>`. `gate`: a CTE without whose rows nothing is written (a transition's compare-and-set).

    Not an upsert: SQLAlchemy gives a dialect's INSERT … ON CONFLICT no cache key, so it was compiled for every
    request (~2,000 Python calls). A record inserted meanwhile by a request that has not committed makes the
    INSERT wait for it and fail on the unique key; api/write.py then answers as that request did.
    """
    records = IdempotencyRecord.__table__.c
    values = {name: bindparam(f"record_{name}", type_=records[name].type) for name in COLUMNS}
    same_key = and_(IdempotencyRecord.user_id == values["user_id"], IdempotencyRecord.key_hash == values["key_hash"])
    gated = [] if gate is None else [select(gate.c.id).exists()]
    renewed = (update(IdempotencyRecord)
               .where(same_key, IdempotencyRecord.expires_at <= values["created_at"], *gated)
               .values({name: values[name] for name in REPLACED})
               .returning(IdempotencyRecord.id)
               .cte("renewed"))
    rows = select(*values.values())
    if gate is not None:
        rows = rows.select_from(gate)
    kept = (insert(IdempotencyRecord)
            .from_select(list(COLUMNS), rows.where(~select(IdempotencyRecord.id).where(same_key).exists()))
            .returning(IdempotencyRecord.id)
            .cte("kept"))
    return renewed, kept


def purge(*, now: datetime) -> int:
    """Forget expired records; returns how many."""
    result = db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now))
    return result.rowcount
