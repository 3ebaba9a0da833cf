"""Patrol coverage, computed in SQL, each count drillable to the round ids behind it.

Definitions (the API docs repeat them):
- basis: rounds, not cancelled, whose window starts in [from, to), of plans the caller can see;
- scheduled: all of them; completed: walked and completed in time; completed_late: completed after the
  window's end plus grace; incomplete: started and never completed by the window's end plus grace;
  missed: nobody checked in (not_opened: slept through by the scheduler;
  no_checkin: opened, nobody came); pending: not yet decided (scheduled, open or in progress);
- completion_rate = (completed + completed_late) / (scheduled - pending); missed_rate = missed / (scheduled -
  pending);
- points_planned: the route points on the rounds' checklists; points_checked: those with a check-in in the
  round; checkpoint_coverage = points_checked / points_planned;
- items_still_there, items_fixed, items_not_seen: the outcomes recorded of the problems the checklists listed
  for verification or a follow-up look;
- findings: problems reported as findings of the rounds; round_hours: the window hours of the rounds walked
  (in progress or completed); findings_per_round_hour = findings / round_hours — which windows find things.
Grouping by officer counts a round once for each officer on it. Days are local to the timezone asked.
A zero denominator gives null.
"""

from datetime import datetime

from sqlalchemy import Integer, and_, case, cast, func, literal, select

from models import ChecklistOutcome, PatrolCheckin, PatrolPlan, PatrolRound, Problem, User
from models.base import db, dialect_name
from models.enums import RoundState
from workflow.errors import Invalid
from workflow.ledger.reports import local_day, seconds_between
from workflow.patrols.rounds import STARTED, visible_rounds

GROUPS = ("plan", "window", "officer", "day")
PENDING = (RoundState.SCHEDULED, RoundState.OPEN, RoundState.IN_PROGRESS)
STATES = {"completed": (RoundState.COMPLETED,), "completed_late": (RoundState.COMPLETED_LATE,),
          "incomplete": (RoundState.INCOMPLETE,), "missed": (RoundState.MISSED,), "pending": PENDING}
FIGURES = ("scheduled", *STATES)
# Summed per group; items_*: the outcomes recorded of the problems the checklists listed (复查 / 回头看).
SUMS = ("points_planned", "points_checked", "findings", "round_hours", "items_still_there", "items_fixed",
        "items_not_seen")
RATES = {"completion_rate": (("completed", "completed_late"), ("scheduled", "pending")),
         "missed_rate": (("missed",), ("scheduled", "pending")),
         "checkpoint_coverage": (("points_checked",), ("points_planned",)),
         "findings_per_round_hour": (("findings",), ("round_hours",))}


def _json_list(column, path: str | None = None):
    """The elements of a JSON list column (or of its member `path`), as a table of one column `value`."""
    if dialect_name() == "postgresql":
        source = column[path] if path else column
        return func.json_array_elements_text(source).table_valued("value")
    return (func.json_each(column, f"$.{path}") if path else func.json_each(column)).table_valued("value")


def _as_int(value):
    return cast(value, Integer) if dialect_name() == "postgresql" else value


def _route_length():
    if dialect_name() == "postgresql":
        return func.json_array_length(PatrolRound.checklist["point_ids"])
    return func.json_array_length(PatrolRound.checklist, "$.point_ids")


def _rounds(actor: User, start: datetime, end: datetime, tz: str):
    """One row per round of the basis, with what it planned, checked and found."""
    route = _json_list(PatrolRound.checklist, "point_ids")
    checked = (select(func.count(func.distinct(PatrolCheckin.point_id)))
               .where(PatrolCheckin.round_id == PatrolRound.id,
                      PatrolCheckin.point_id.in_(select(_as_int(route.c.value))))
               .scalar_subquery())
    findings = select(func.count(Problem.id)).where(Problem.round_id == PatrolRound.id).scalar_subquery()
    outcomes = {f"items_{outcome}": select(func.count(ChecklistOutcome.id)).where(
        ChecklistOutcome.round_id == PatrolRound.id, ChecklistOutcome.outcome == outcome).scalar_subquery()
        for outcome in ("still_there", "fixed", "not_seen")}
    hours = case((PatrolRound.state.in_(STARTED),
                  seconds_between(PatrolRound.planned_end, PatrolRound.planned_start) / 3600.0), else_=0)
    return select(
        PatrolRound.id.label("round_id"), PatrolRound.plan_id.label("plan"), PatrolRound.label.label("window"),
        local_day(PatrolRound.planned_start, tz, start).label("day"), PatrolRound.state.label("state"),
        PatrolRound.officer_ids.label("officer_ids"), _route_length().label("points_planned"),
        checked.label("points_checked"), findings.label("findings"), hours.label("round_hours"),
        *[count.label(name) for name, count in outcomes.items()],
    ).where(visible_rounds(actor), PatrolRound.state != RoundState.CANCELLED,
            PatrolRound.planned_start >= start, PatrolRound.planned_start < end).subquery()


def _grouped(rounds, group_by: str | None):
    """(select over `rounds`, its key column) for a grouping (None: no key)."""
    if group_by is None:
        return select(rounds), literal(None)
    if group_by == "officer":
        officers = _json_list(rounds.c.officer_ids)
        return select(rounds).join(officers, literal(True)), _as_int(officers.c.value)
    return select(rounds), rounds.c[group_by]


def coverage(*, actor: User, start: datetime, end: datetime, group_by: str, tz: str) -> dict:
    """Patrol figures per group and in total for rounds whose window starts in [start, end)."""
    if group_by not in GROUPS:
        raise Invalid("unknown grouping", errors={"group_by": list(GROUPS)})
    rounds = _rounds(actor, start, end, tz)
    rows = sorted(_figures(rounds, group_by), key=lambda row: str(row["key"]))
    labels = _labels(group_by, [row["key"] for row in rows])
    totals = next(iter(_figures(rounds, None)), None) or _with_rates(
        {"key": None, "scheduled": 0, **{figure: 0 for figure in STATES}, **dict.fromkeys(SUMS, 0)})
    totals.pop("key")
    return {"basis": "rounds_starting_in_period", "from": start, "to": end, "group_by": group_by,
            "rows": [row | {"label": labels.get(row["key"], str(row["key"]))} for row in rows], "totals": totals}


def by_unit(*, actor: User, start: datetime, end: datetime, tz: str) -> dict[int, dict]:
    """Each plan-owning unit's patrol figures and rates (its plans' rounds added up), for the evaluation."""
    rows = coverage(actor=actor, start=start, end=end, group_by="plan", tz=tz)["rows"]
    owners = dict(db.session.execute(select(PatrolPlan.id, PatrolPlan.unit_id)
                                     .where(PatrolPlan.id.in_([row["key"] for row in rows]))).tuples().all())
    units: dict[int, dict] = {}
    for row in rows:
        unit = units.setdefault(owners[row["key"]], dict.fromkeys(("scheduled", *STATES, *SUMS), 0))
        for name in unit:
            unit[name] += row[name] or 0
    return {unit_id: _with_rates(figures) for unit_id, figures in units.items()}


def _figures(rounds, group_by: str | None) -> list[dict]:
    """The figures of each group (`group_by` None: one row of totals)."""
    base, key = _grouped(rounds, group_by)
    source = base.add_columns(key.label("key")).subquery()
    counts = [func.count().label("scheduled")] + [
        func.sum(case((source.c.state.in_(states), 1), else_=0)).label(figure) for figure, states in STATES.items()]
    sums = [func.sum(source.c[column]).label(column) for column in SUMS]
    stmt = select(source.c.key, *counts, *sums).group_by(source.c.key)
    return [_with_rates(dict(row._mapping)) for row in db.session.execute(stmt)]


def _labels(group_by: str, keys: list) -> dict:
    model = {"plan": PatrolPlan, "officer": User}.get(group_by)
    if model is None:
        return {}
    return dict(db.session.execute(select(model.id, model.name).where(model.id.in_(keys))).tuples().all())


def _with_rates(row: dict) -> dict:
    row = {name: value if name == "key" else round(float(value or 0), 2) if name == "round_hours" else int(value or 0)
           for name, value in row.items()}
    for rate, (numerators, denominators) in RATES.items():
        numerator = sum(row[n] for n in numerators)
        denominator = row[denominators[0]] - sum(row[d] for d in denominators[1:])
        row[rate] = round(numerator / denominator, 4) if denominator else None
    return row


def drill(*, actor: User, start: datetime, end: datetime, figure: str, group_by: str | None = None, key=None,
          tz: str, limit: int = 1000) -> list[int]:
    """The ids of the rounds behind one count (of one group, when given)."""
    if figure not in FIGURES:
        raise Invalid("unknown figure", errors={"figure": list(FIGURES)})
    if group_by is not None and group_by not in GROUPS:
        raise Invalid("unknown grouping", errors={"group_by": list(GROUPS)})
    rounds = _rounds(actor, start, end, tz)
    base, column = _grouped(rounds, group_by)
    conds = [rounds.c.state.in_(STATES[figure]) if figure in STATES else literal(True)]
    if group_by is not None:
        conds.append(column == key)
    stmt = base.with_only_columns(rounds.c.round_id).where(and_(*conds)).distinct().order_by(rounds.c.round_id)
    return list(db.session.scalars(stmt.limit(limit)))
