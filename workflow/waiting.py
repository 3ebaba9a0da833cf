"""The one write a request may hold back to its commit, so that the answer's record travels with it.

A transition on PostgreSQL is one statement (workflow/problems/one_statement.py). When the request carries an
Idempotency-Key, its answer must be stored too; the answer is rendered from the row as it will be written (the
compare-and-set makes its version expected + 1), so the write can wait until the answer exists and take the
record into the same statement (docs/decisions/0129-the-answer-rides-the-write.md). The write boundary
(api/write.py) opens `deferring()`; the write calls `hold`; the boundary's commit calls `flush`, with the record
when there is one (workflow/idempotency.py::store).

A write held back is never lost: a commit of its transaction that did not flush it flushes it first.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session

from models.base import db

_DEFERRING = "rectify.deferring"  # session.info: True while the write boundary lets a write wait
_HELD = "rectify.held_write"  # session.info: (transaction, run(record) -> whether the record was stored)


@contextmanager
def deferring() -> Iterator[None]:
    """Let one write of this request wait for `flush` (the write boundary's commit)."""
    session = db.session()
    session.info[_DEFERRING] = True
    try:
        yield
    finally:
        session.info.pop(_DEFERRING, None)
        session.info.pop(_HELD, None)


def may_wait() -> bool:
    """Whether a write may be held back now (inside `deferring`, and none is held yet)."""
    session = db.session()
    return bool(session.info.get(_DEFERRING)) and _held(session) is None


def hold(run: Callable[[dict | None], bool]) -> None:
    """Keep `run` for the commit: it sends the write, with the Idempotency-Key record it is given (or none),
    and says whether the record was stored (False: a live record of the key was in the way)."""
    session = db.session()
    session.info[_HELD] = (session.get_transaction(), run)


def flush(record: dict | None = None) -> bool | None:
    """Send the held write now, carrying `record` (the values of an idempotency record) if given; None when
    no write is held, else whether the record was stored."""
    session = db.session()
    run = _held(session)
    if run is None:
        return None
    session.info.pop(_HELD, None)
    return run(record)


def _held(session: Session):
    held = session.info.get(_HELD)
    if held is None or held[0] is not session.get_transaction():
        return None  # none, or one of a transaction rolled back since
    return held[1]


@event.listens_for(Session, "before_commit")
def _flush_before_commit(session: Session) -> None:
    """Nothing is lost: a held write not flushed by its boundary is sent before its transaction commits (not
    when a SAVEPOINT is released: the transaction goes on)."""
    if session.get_nested_transaction() is not None:
        return
    run = _held(session)
    if run is not None:
        session.info.pop(_HELD, None)
        run(None)
