"""Keyset pages: `{items, next_cursor}`, where a cursor is the key of the last item, opaque to clients."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select

from models.base import db
from workflow.errors import Invalid

MAX_ID = 2**31 - 1
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass
class Page:
    items: list
    next_cursor: str | None


def encode_cursor(*values) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _bad_cursor() -> Invalid:
    return Invalid("cursor is not valid", errors={"cursor": ["not a cursor this API handed out"]})


def _id(value) -> int:
    if type(value) is not int or not 0 < value <= MAX_ID:
        raise _bad_cursor()
    return value


def _time(value) -> datetime:
    try:
        at = datetime.fromisoformat(value)
        if at.tzinfo is None or not EARLIEST <= at <= LATEST:
            raise ValueError(value)
    except (TypeError, ValueError, OverflowError):
        raise _bad_cursor() from None
    return at


PARSERS = {"id": _id, "time": _time}


def decode_cursor(cursor: str, *kinds: str) -> list:
    """The values a cursor carries, checked against `kinds` ("id", "time"); Invalid (422) otherwise."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise _bad_cursor() from None
    if not isinstance(values, list) or len(values) != len(kinds):
        raise _bad_cursor()
    return [PARSERS[kind](value) for kind, value in zip(kinds, values, strict=True)]


def fetch(stmt: Select, *, limit: int, key) -> Page:
    """Run a statement already ordered and filtered past the cursor; `key(row)` makes the next cursor."""
    rows = db.session.scalars(stmt.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(*key(rows[-1])) if more else None)


def by_column(stmt: Select, column, *, limit: int, cursor: str | None = None) -> Page:
    """A page ordered by one increasing integer column (an id or a seq)."""
    if cursor:
        (after,) = decode_cursor(cursor, "id")
        stmt = stmt.where(column > after)
    return fetch(stmt.order_by(column), limit=limit, key=lambda row: (getattr(row, column.key),))
