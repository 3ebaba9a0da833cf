"""Human problem codes: `<district code>-<local date>-<sequence>`, e.g. LY-20261126-0007.

The sequence is one counter row per (prefix, local day), taken with an upsert in the report's own
transaction: a rolled-back report gives its number back, so codes have no gaps, and the row stays locked
until the commit — the report takes its code as late as it can (decision 0125).
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, text

from models import Unit
from models.base import db

DEFAULT_PREFIX = "RX"


def next_code(*, unit: Unit, tz: str, now: datetime) -> str:
    """Hand out the next code for the local day, atomically on both databases. The prefix is the code of the
    root unit above `unit` (the district), else the default; it is read in the same statement."""
    root_id = unit.ancestor_ids()[0] if unit.path else unit.id
    day = now.astimezone(ZoneInfo(tz)).strftime("%Y%m%d")
    prefix, number = db.session.execute(COUNTER, {"root_id": root_id, "day": day}).one()
    return f"{prefix}-{day}-{number:04d}"


# Text, the same on both databases: SQLAlchemy's dialect upserts have no cache key, so built as one this was
# compiled anew for every report.
COUNTER = text(
    "INSERT INTO code_counters (prefix, day, last) "
    "VALUES (coalesce((SELECT upper(nullif(code, '')) FROM units WHERE id = :root_id), :default), :day, 1) "
    "ON CONFLICT (prefix, day) DO UPDATE SET last = code_counters.last + 1 RETURNING prefix, last"
).bindparams(bindparam("default", DEFAULT_PREFIX))
