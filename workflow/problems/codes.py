"""Human problem codes: `<district code>-<local date>-<sequence>`, e.g. LY-20261126-0007.

The sequence is one counter row per (prefix, local day), taken with an upsert in the report's own
transaction: a rolled-back report gives its number back, so codes have no gaps, and the row stays locked
until the commit — the report takes its code as late as it can (decision 0125).
"""

import functools
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select

from models import CodeCounter, Unit
from models.base import db, dialect_name, upsert

DEFAULT_PREFIX = "RX"


def next_code(*, unit: Unit, tz: str, now: datetime) -> str:
    """Hand out the next code for the local day, atomically on both databases. The prefix is the code of the
    root unit above `unit` (the district), else the default; it is read in the same statement."""
    root_id = unit.ancestor_ids()[0] if unit.path else unit.id
    day = now.astimezone(ZoneInfo(tz)).strftime("%Y%m%d")
    prefix, number = db.session.execute(_counter_statement(dialect_name()), {"root_id": root_id, "day": day}).one()
    return f"{prefix}-{day}-{number:04d}"


@functools.cache
def _counter_statement(dialect: str):
    """INSERT INTO code_counters (prefix, day, last) VALUES (coalesce((SELECT upper(code) of the root unit),
    'RX'), :day, 1) ON CONFLICT (prefix, day) DO UPDATE SET last = last + 1 RETURNING prefix, last — built once
    per dialect (SQLAlchemy then reuses its compiled form)."""
    root_code = select(func.upper(func.nullif(Unit.code, ""))).where(Unit.id == bindparam("root_id"))
    prefix = func.coalesce(root_code.scalar_subquery(), DEFAULT_PREFIX)
    stmt = upsert(CodeCounter).values(prefix=prefix, day=bindparam("day", type_=CodeCounter.day.type), last=1)
    return (stmt.on_conflict_do_update(index_elements=["prefix", "day"], set_={"last": CodeCounter.last + 1})
            .returning(CodeCounter.prefix, CodeCounter.last))
