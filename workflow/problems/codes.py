"""Human problem codes: `<district code>-<local date>-<sequence>`, e.g. LY-20261126-0007."""

from datetime import datetime
from zoneinfo import ZoneInfo

from models import CodeCounter, Unit
from models.base import db, upsert

DEFAULT_PREFIX = "RX"


def code_prefix(unit: Unit) -> str:
    """The code of the root unit above `unit` (the district), or the default prefix."""
    root = db.session.get(Unit, unit.ancestor_ids()[0]) if unit.path else unit
    return (root.code if root and root.code else DEFAULT_PREFIX).upper()


def next_code(*, prefix: str, tz: str, now: datetime) -> str:
    """Hand out the next code for the local day, atomically on both databases."""
    day = now.astimezone(ZoneInfo(tz)).strftime("%Y%m%d")
    stmt = (
        upsert(CodeCounter)
        .values(prefix=prefix, day=day, last=1)
        .on_conflict_do_update(index_elements=["prefix", "day"], set_={"last": CodeCounter.last + 1})
        .returning(CodeCounter.last)
    )
    number = db.session.execute(stmt).scalar_one()
    return f"{prefix}-{day}-{number:04d}"
