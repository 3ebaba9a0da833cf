"""Statistics over the ledger, computed in SQL, each figure drillable to the problem ids behind it.

Definitions (the one place they live; the API docs repeat them):
- basis: problems reported in [from, to) that the caller can see, with their state now;
- reported: all of them; dispatched: ever assigned (the whole-case clock started); closed, cancelled: by
  state now; closure_rate = closed / (reported - cancelled);
- on_time: closed by the whole-case deadline (closed_at <= due_at; cases with no deadline count as on time);
  on_time_rate = on_time / closed;
- reworked: rework_count > 0; submitted: ever submitted for verification; rework_rate = reworked / submitted;
- extended: granted an extension at least once; extension_rate = extended / dispatched;
- overdue: open and past its stage or whole-case deadline now;
- self_resolved: resolved on the spot (自处理); self_resolved_share = self_resolved / reported.
A zero denominator gives null.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, literal_column, or_, select

from models import Category, Grid, Problem, Unit, User
from models.base import db, dialect_name
from models.enums import State
from models.lists import ProblemList, problem_list_items
from workflow.errors import Invalid
from workflow.scope import problem_filter

GROUPS = ("unit", "grid", "category", "officer", "list", "day", "week", "month")
FIGURES = ("reported", "dispatched", "closed", "cancelled", "on_time", "submitted", "reworked", "extended",
           "overdue", "self_resolved")


def conditions(now: datetime) -> dict:
    """The SQL condition of each counted figure."""
    return {
        "reported": literal(True),
        "dispatched": Problem.whole_started_at.is_not(None),
        "closed": Problem.state == State.CLOSED,
        "cancelled": Problem.state == State.CANCELLED,
        "on_time": and_(Problem.state == State.CLOSED,
                        or_(Problem.due_at.is_(None), Problem.closed_at <= Problem.due_at)),
        "submitted": or_(Problem.submitted_by_id.is_not(None), Problem.rework_count > 0),
        "reworked": Problem.rework_count > 0,
        "extended": Problem.extension_count > 0,
        "overdue": Problem.overdue_clause(now),
        "self_resolved": Problem.resolved_on_site.is_(True),
    }


RATES = {"closure_rate": ("closed", ("reported", "cancelled")), "on_time_rate": ("on_time", ("closed",)),
         "rework_rate": ("reworked", ("submitted",)), "extension_rate": ("extended", ("dispatched",)),
         "self_resolved_share": ("self_resolved", ("reported",))}


def _offset_hours(tz: str, at: datetime) -> float:
    return at.astimezone(ZoneInfo(tz)).utcoffset().total_seconds() / 3600


def _local_day(tz: str, at: datetime):
    """The local date of reported_at, in SQL: PostgreSQL converts with the zone's rules; SQLite, which knows
    no zones, adds the zone's offset at the period start (exact for zones without DST, like China's)."""
    if dialect_name() == "postgresql":
        return func.to_char(func.timezone(tz, Problem.reported_at), "YYYY-MM-DD")
    return func.date(Problem.reported_at, f"{_offset_hours(tz, at):+.2f} hours")


def _key(group_by: str, tz: str, start: datetime):
    """(key expression, extra joins) for a grouping."""
    day = _local_day(tz, start)
    if group_by == "unit":
        return func.coalesce(Problem.unit_id, Problem.grid_unit_id), []
    if group_by in ("grid", "category", "officer"):
        return {"grid": Problem.grid_id, "category": Problem.category_id, "officer": Problem.reporter_id}[group_by], []
    if group_by == "list":
        return problem_list_items.c.list_id, [problem_list_items]
    if group_by == "month":
        return func.substr(day, 1, 7), []
    return day, []  # day; weeks are folded from days in Python (a label, not a figure)


LABELS = {"unit": Unit, "grid": Grid, "category": Category, "officer": User, "list": ProblemList}


def _period_filter(actor: User, start: datetime, end: datetime):
    return and_(problem_filter(actor), Problem.reported_at >= start, Problem.reported_at < end)


def summary(*, actor: User, now: datetime, start: datetime, end: datetime, group_by: str, tz: str) -> dict:
    """Figures per group and in total, for problems reported in [start, end)."""
    if group_by not in GROUPS:
        raise Invalid("unknown grouping", errors={"group_by": list(GROUPS)})
    conds = conditions(now)
    figures = [func.sum(case((cond, 1), else_=0)).label(name) for name, cond in conds.items()]
    key, joins = _key(group_by, tz, start)
    stmt = select(key.label("key"), *figures).where(_period_filter(actor, start, end))
    for table in joins:
        stmt = stmt.join(table, table.c.problem_id == Problem.id)
    rows = [dict(row._mapping) for row in db.session.execute(stmt.group_by(literal_column("key")))]
    if group_by == "week":
        rows = _fold_weeks(rows)
    totals = dict(db.session.execute(select(*figures).where(_period_filter(actor, start, end))).one()._mapping)
    labels = _labels(group_by, [row["key"] for row in rows])
    return {"basis": "reported_in_period", "from": start, "to": end, "group_by": group_by,
            "rows": [_with_rates(row) | {"label": labels.get(row["key"], str(row["key"]))}
                     for row in sorted(rows, key=lambda r: str(r["key"]))],
            "totals": _with_rates(totals)}


def _fold_weeks(rows: list[dict]) -> list[dict]:
    weeks: dict[str, dict] = {}
    for row in rows:
        day = datetime.strptime(row["key"], "%Y-%m-%d").date()
        monday = (day - timedelta(days=day.weekday())).isoformat()
        into = weeks.setdefault(monday, {"key": monday} | {k: 0 for k in row if k != "key"})
        for name, value in row.items():
            if name != "key":
                into[name] += value or 0
    return list(weeks.values())


def _labels(group_by: str, keys: list) -> dict:
    model = LABELS.get(group_by)
    if model is None:
        return {}
    return dict(db.session.execute(select(model.id, model.name).where(model.id.in_(keys))).tuples().all())


def _with_rates(row: dict) -> dict:
    row = {name: (value or 0) if name != "key" else value for name, value in row.items()}
    for rate, (numerator, denominators) in RATES.items():
        denominator = row[denominators[0]] - sum(row[d] for d in denominators[1:])
        row[rate] = round(row[numerator] / denominator, 4) if denominator else None
    return row


def drill(*, actor: User, now: datetime, start: datetime, end: datetime, figure: str,
          group_by: str | None = None, key=None, tz: str, limit: int = 1000) -> list[int]:
    """The ids of the problems behind one figure (of one group, when given)."""
    conds = conditions(now)
    if figure not in conds:
        raise Invalid("unknown figure", errors={"figure": list(conds)})
    stmt = select(Problem.id).where(_period_filter(actor, start, end), conds[figure])
    if group_by is not None:
        if group_by not in GROUPS or group_by == "week":
            raise Invalid("drill by unit, grid, category, officer, list, day or month",
                          errors={"group_by": ["not drillable"]})
        expr, joins = _key(group_by, tz, start)
        for table in joins:
            stmt = stmt.join(table, table.c.problem_id == Problem.id)
        stmt = stmt.where(expr == key)
    return list(db.session.scalars(stmt.order_by(Problem.id).limit(limit)))
