"""Statistics over the ledger, computed in SQL, each figure drillable to the problem ids behind it.

Definitions (the one place they live; the API docs repeat them):
- basis: problems reported in [from, to) that the caller can see, with their state now;
- reported: all of them; dispatched: ever assigned (the whole-case clock started); closed, cancelled: by
  state now; closure_rate = closed / (reported - cancelled);
- on_time: closed before the whole-case deadline (closed_at < due_at, the complement of overdue among closed
  cases; cases with no deadline count as on time);
  on_time_rate = on_time / closed;
- reworked: rework_count > 0; submitted: ever submitted for verification; rework_rate = reworked / submitted;
- extended: granted an extension at least once; extension_rate = extended / dispatched;
- overdue: the one definition of `Problem.is_overdue` — open and past its stage or whole-case deadline now, or
  suspended after it was (frozen), or closed at or after its whole-case deadline; overdue_rate = overdue /
  (reported - cancelled); overdue_avg_s, overdue_max_s: how far past the earliest passed deadline they are
  (natural seconds): now for running clocks, when the clocks were paused for a suspended problem, at the close
  for a closed one;
- recurred: not cancelled, at a place (point) where another problem of the same category, not cancelled, was
  reported in the RECURRENCE_DAYS (30) days before it and fixed (verified or closed) by its report (kept as the
  problem's `recurrence_of`: linked at the report, relinked when that one is cancelled or moved; a report of
  something still open is a possible duplicate instead); recurrence_rate = recurred / (reported - cancelled);
- self_resolved: resolved on the spot (自处理); self_resolved_share = self_resolved / reported;
- stage_times: per stage (dispatch 派遣, accept 接单, rectify 整改, verify 核查) that the basis's problems left,
  count, average and p90 (nearest rank: the smallest value that at least 90 % of the stages took no longer
  than) of the time from entering the stage to leaving it, in natural and in working seconds (the working
  calendar in the problem's timezone); pauses (挂账) count, reassignments and rework start a new stage.
- outside: first reported by the public or the 12345 hotline (source public or hotline); missed (漏报): outside
  and not cancelled (a report refused at intake as invalid or out of scope was nothing the grid missed);
  missed_report_rate = missed / (reported - cancelled); grouped by grid, unit, or `grid_officer` (every officer
  of the problem's grid: the officers who should have found it);
- callback_due: an outside case now closed; called_back: of those, with a callback recorded (回访);
  unreachable: the callback found nobody; satisfied: satisfied or basically satisfied;
  callback_rate = called_back / callback_due; satisfaction_rate = satisfied / (called_back - unreachable);
- intake_times: as stage_times' dispatch stage, over outside reports only: from the report to its intake
  (受理: assign, or cancel).
A zero denominator gives null. Weeks start on Monday; days, weeks and months are local to the timezone asked.
"""

import tomllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, false, func, literal, literal_column, or_, select, tuple_

from models import Category, Grid, Problem, ProblemEvent, StageSpan, Unit, User, user_grids
from models.base import UTCDateTime, db, dialect_name
from models.enums import CALLED_BACK_SOURCES, Role, Satisfaction, State
from models.lists import ProblemList, problem_list_items
from workflow.errors import Invalid
from workflow.ledger.lists import visible_lists
from workflow.problems.recurrence import RECURRENCE_WINDOW
from workflow.scope import problem_filter

GROUPS = ("unit", "grid", "category", "officer", "grid_officer", "list", "day", "week", "month")
FIGURES = ("reported", "dispatched", "closed", "cancelled", "on_time", "submitted", "reworked", "extended",
           "overdue", "recurred", "self_resolved", "outside", "missed", "callback_due", "called_back", "unreachable",
           "satisfied")
OUTSIDE = tuple(str(s) for s in CALLED_BACK_SOURCES)
INTAKE = "intake"  # the pseudo-stage of stage_times behind intake_times
STAGES = ("dispatch", "accept", "rectify", "verify")
DRILLABLE = FIGURES + tuple(f"left_{stage}" for stage in STAGES)  # left_<stage>: behind stage_times
RECURRENCE_DAYS = RECURRENCE_WINDOW.days


def conditions(now: datetime) -> dict:
    """The SQL condition of each counted figure."""
    return {
        "reported": literal(True),
        "dispatched": Problem.whole_started_at.is_not(None),
        "closed": Problem.state == State.CLOSED,
        "cancelled": Problem.state == State.CANCELLED,
        "on_time": and_(Problem.state == State.CLOSED,
                        or_(Problem.due_at.is_(None), Problem.closed_at < Problem.due_at)),
        "submitted": or_(Problem.submitted_by_id.is_not(None), Problem.rework_count > 0),
        "reworked": Problem.rework_count > 0,
        "extended": Problem.extension_count > 0,
        "overdue": Problem.overdue_clause(now),
        "recurred": _recurred(),
        "self_resolved": Problem.resolved_on_site.is_(True),
        "outside": Problem.source.in_(OUTSIDE),
        "missed": and_(Problem.source.in_(OUTSIDE), Problem.state != State.CANCELLED),
        "callback_due": and_(Problem.source.in_(OUTSIDE), Problem.state == State.CLOSED),
        "called_back": and_(Problem.state == State.CLOSED, Problem.callback_satisfaction.is_not(None)),
        "unreachable": and_(Problem.state == State.CLOSED, Problem.callback_satisfaction == Satisfaction.UNREACHABLE),
        "satisfied": and_(Problem.state == State.CLOSED, Problem.callback_satisfaction.in_(
            (Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED))),
    }


RATES = {"closure_rate": ("closed", ("reported", "cancelled")), "on_time_rate": ("on_time", ("closed",)),
         "rework_rate": ("reworked", ("submitted",)), "extension_rate": ("extended", ("dispatched",)),
         "overdue_rate": ("overdue", ("reported", "cancelled")),
         "recurrence_rate": ("recurred", ("reported", "cancelled")),
         "self_resolved_share": ("self_resolved", ("reported",)),
         "missed_report_rate": ("missed", ("reported", "cancelled")),
         "callback_rate": ("called_back", ("callback_due",)),
         "satisfaction_rate": ("satisfied", ("called_back", "unreachable"))}


# --- portable SQL pieces ----------------------------------------------------------------------

def seconds_between(later, earlier):
    """`later - earlier` in seconds, in SQL."""
    if dialect_name() == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _recurred():
    """Linked at its report to the problem it repeats (workflow.problems.actions keeps the link right)."""
    return and_(Problem.recurrence_of.is_not(None), Problem.state != State.CANCELLED)


def _overdue_seconds(now: datetime):
    """For an overdue problem, how far past the earliest of its passed deadlines: now for running clocks, frozen
    at the pause for a paused one, at the close for a closed one; null when not overdue."""
    stage_first = and_(Problem.stage_due_at.is_not(None), Problem.stage_due_at <= now,
                       or_(Problem.due_at.is_(None), Problem.due_at > now, Problem.stage_due_at <= Problem.due_at))
    passed = case((stage_first, Problem.stage_due_at), else_=Problem.due_at)
    stage_past = case((Problem.stage_left_s < 0, -Problem.stage_left_s), else_=0)
    whole_past = case((Problem.whole_left_s < 0, -Problem.whole_left_s), else_=0)
    frozen = case((stage_past > whole_past, stage_past), else_=whole_past)
    return case((~Problem.overdue_clause(now), None),
                (Problem.state == State.CLOSED, seconds_between(Problem.closed_at, Problem.due_at)),
                (Problem.paused_at.is_not(None), frozen),
                else_=seconds_between(literal(now, UTCDateTime()), passed))


def _offset_hours(tz: str, at: datetime) -> float:
    return at.astimezone(ZoneInfo(tz)).utcoffset().total_seconds() / 3600


def local_day(column, tz: str, at: datetime):
    """The local date (YYYY-MM-DD) of a UTC datetime column, in SQL: PostgreSQL converts with the zone's
    rules; SQLite, which knows no zones, adds the zone's offset at `at` (exact for zones without DST, like
    China's)."""
    if dialect_name() == "postgresql":
        return func.to_char(func.timezone(tz, column), "YYYY-MM-DD")
    return func.date(column, f"{_offset_hours(tz, at):+.2f} hours")


def _local_week(column, tz: str, at: datetime):
    """The Monday (YYYY-MM-DD) of the local week of a UTC datetime column."""
    if dialect_name() == "postgresql":
        return func.to_char(func.date_trunc("week", func.timezone(tz, column)), "YYYY-MM-DD")
    return func.date(column, f"{_offset_hours(tz, at):+.2f} hours", "weekday 0", "-6 days")


def _key(group_by: str, tz: str, start: datetime, actor: User):
    """(key expression, extra joins as (table, on clause)) for a grouping; by list, only the lists `actor` may
    see (a list's name and its problems' count are not for those who get 404 on it)."""
    if group_by == "unit":
        return func.coalesce(Problem.unit_id, Problem.grid_unit_id), []
    if group_by == "grid_officer":  # a problem counts for every officer of its grid
        return user_grids.c.user_id, [(user_grids, user_grids.c.grid_id == Problem.grid_id)]
    if group_by in ("grid", "category", "officer"):
        return {"grid": Problem.grid_id, "category": Problem.category_id, "officer": Problem.reporter_id}[group_by], []
    if group_by == "list":
        return problem_list_items.c.list_id, [(problem_list_items, and_(
            problem_list_items.c.problem_id == Problem.id, problem_list_items.c.list_id.in_(_visible_list_ids(actor))))]
    if group_by == "week":
        return _local_week(Problem.reported_at, tz, start), []
    day = local_day(Problem.reported_at, tz, start)
    return (func.substr(day, 1, 7) if group_by == "month" else day), []


LABELS = {"unit": Unit, "grid": Grid, "category": Category, "officer": User, "grid_officer": User,
          "list": ProblemList}


def _period_filter(actor: User, start: datetime, end: datetime):
    return and_(problem_filter(actor), Problem.reported_at >= start, Problem.reported_at < end)


def _visible_list_ids(actor: User):
    if actor.role not in (Role.ADMIN, Role.SUPERVISOR):  # officers and handlers see no list at all
        return select(ProblemList.id).where(false())
    return select(ProblemList.id).where(visible_lists(actor))


def _joined(stmt, joins):
    for table, onclause in joins:
        stmt = stmt.join(table, onclause)
    return stmt


# --- the summary ------------------------------------------------------------------------------

def summary(*, actor: User, now: datetime, start: datetime, end: datetime, group_by: str, tz: str,
            with_stage_times: bool = True) -> dict:
    """Figures per group and in total, for problems reported in [start, end) (stage times unless told not:
    they are the costly part, and the evaluation does not use them)."""
    if group_by not in GROUPS:
        raise Invalid("unknown grouping", errors={"group_by": list(GROUPS)})
    figures = [func.sum(case((cond, 1), else_=0)).label(name) for name, cond in conditions(now).items()]
    overdue_s = _overdue_seconds(now)
    figures += [func.avg(overdue_s).label("overdue_avg_s"), func.max(overdue_s).label("overdue_max_s")]
    key, joins = _key(group_by, tz, start, actor)
    where = _period_filter(actor, start, end)
    stmt = _joined(select(key.label("key"), *figures), joins).where(where).group_by(literal_column("key"))
    rows = [dict(row._mapping) for row in db.session.execute(stmt)]
    if joins:  # a problem on two lists counts in both rows, once in the totals
        totals = dict(db.session.execute(select(*figures).where(where)).one()._mapping)
    else:
        totals = _added(rows, [figure.name for figure in figures])
    times, totals_times = stage_times(where, key, joins, (start, end)) if with_stage_times else ({}, {})
    intake = {k: stages.pop(INTAKE, None) for k, stages in times.items()}
    totals_intake = totals_times.pop(INTAKE, None)
    labels = _labels(group_by, [row["key"] for row in rows])
    return {"basis": "reported_in_period", "from": start, "to": end, "group_by": group_by,
            "rows": [_with_rates(row) | {"label": labels.get(row["key"], _unlabelled(group_by, row["key"])),
                                         "stage_times": times.get(row["key"], {}),
                                         "intake_times": intake.get(row["key"])}
                     for row in sorted(rows, key=lambda r: str(r["key"]))],
            "totals": _with_rates(totals) | {"stage_times": totals_times, "intake_times": totals_intake}}


def _added(rows: list[dict], names: list[str]) -> dict:
    """The totals of groups that split the basis (each problem in one group): sums, the overdue-weighted
    average and the maximum of how far overdue."""
    totals = {name: sum(row[name] or 0 for row in rows) for name in names}
    weighted = sum(float(row["overdue_avg_s"]) * row["overdue"] for row in rows if row["overdue_avg_s"] is not None)
    totals["overdue_avg_s"] = weighted / totals["overdue"] if totals["overdue"] else None
    totals["overdue_max_s"] = max((row["overdue_max_s"] for row in rows if row["overdue_max_s"] is not None),
                                  default=None)
    return totals


def stage_times(where, key, joins, period: tuple[datetime, datetime]) -> tuple[dict, dict]:
    """Over the stages that the problems selected by `where` (reported in `period`, [start, end)) left, one
    row per stage-ending event: ({group key: {stage: figures}}, {stage: figures} over all), figures being the
    count and the natural and working average and p90 (nearest rank) in seconds."""
    if dialect_name() == "postgresql" and not joins:
        return _stage_times_grouping_sets(where, key, period)
    return (_stage_times_ranked(where, key, joins, period),
            _stage_times_ranked(where, None, [], period).get(None, {}))


def _stage_rows(where, key, joins, period: tuple[datetime, datetime]):
    """One row per stage left (`stage_spans`, decision 0123: read by the index range of the problems' report
    time, then joined to the problems `where` keeps), plus the dispatch stages of outside reports again as the
    pseudo-stage `intake` (受理): the summary splits it off into `intake_times`, in the same statement."""
    start, end = period

    def rows(stage, *conditions):
        return _joined(select(
            (literal(None) if key is None else key).label("key"), stage.label("stage"),
            StageSpan.natural_s.label("natural"), StageSpan.working_s.label("working"),
        ).select_from(StageSpan).join(Problem, Problem.id == StageSpan.problem_id), joins).where(
            StageSpan.reported_at >= start, StageSpan.reported_at < end, where, *conditions)
    intake = rows(literal(INTAKE), StageSpan.stage == "dispatch", Problem.source.in_(OUTSIDE))
    return rows(StageSpan.stage).union_all(intake)


def _stage_times_grouping_sets(where, key, period) -> tuple[dict, dict]:
    """PostgreSQL: groups and totals in one pass; percentile_disc(0.9) is the nearest rank."""
    rows = _stage_rows(where, key, [], period).subquery()
    stmt = select(rows.c.key, rows.c.stage, func.grouping(rows.c.key).label("total"), func.count().label("count"),
                  func.avg(rows.c.natural).label("natural_avg_s"),
                  func.percentile_disc(0.9).within_group(rows.c.natural).label("natural_p90_s"),
                  func.avg(rows.c.working).label("working_avg_s"),
                  func.percentile_disc(0.9).within_group(rows.c.working).label("working_p90_s"),
                  ).group_by(func.grouping_sets(tuple_(rows.c.key, rows.c.stage), tuple_(rows.c.stage)))
    per_key: dict = {}
    totals: dict = {}
    for row in db.session.execute(stmt):
        figures = {name: _whole(value) for name, value in row._mapping.items() if name not in ("key", "stage", "total")}
        (totals if row.total else per_key.setdefault(row.key, {}))[row.stage] = figures
    return per_key, totals


def _stage_times_ranked(where, key, joins, period) -> dict:
    """Portable: p90 as the value at rank ceil(0.9 n) of a window ordering."""
    base = _stage_rows(where, key, joins, period).subquery()
    parts = (base.c.stage,) if key is None else (base.c.key, base.c.stage)
    ranked = select(
        base, func.row_number().over(partition_by=parts, order_by=base.c.natural).label("natural_rank"),
        func.row_number().over(partition_by=parts, order_by=base.c.working).label("working_rank"),
        func.count().over(partition_by=parts).label("n")).subquery()
    p90_rank = (ranked.c.n * 9 + 9) // 10  # nearest rank: ceil(0.9 n)

    def p90(clock):
        return func.max(case((ranked.c[f"{clock}_rank"] == p90_rank, ranked.c[clock])))

    stmt = select(ranked.c.key, ranked.c.stage, func.count().label("count"),
                  func.avg(ranked.c.natural).label("natural_avg_s"), p90("natural").label("natural_p90_s"),
                  func.avg(ranked.c.working).label("working_avg_s"), p90("working").label("working_p90_s"),
                  ).group_by(ranked.c.key, ranked.c.stage)
    out: dict = {}
    for row in db.session.execute(stmt):
        figures = {name: _whole(value) for name, value in row._mapping.items() if name not in ("key", "stage")}
        out.setdefault(row.key, {})[row.stage] = figures
    return out


def _left_stage(stage: str):
    """The problem left `stage` at least once (what its stage_times count)."""
    return exists().where(ProblemEvent.problem_id == Problem.id, ProblemEvent.stage == stage,
                          ProblemEvent.stage_natural_s.is_not(None))


def _whole(value):
    return None if value is None else int(round(float(value)))


def _unlabelled(group_by: str, key) -> str:
    """A key without a name: the grid of shortfalls without a place (decision 0091), or the key itself."""
    return NO_GRID if group_by == "grid" and key is None else str(key)


NO_GRID = "无地点"


def _labels(group_by: str, keys: list) -> dict:
    model = LABELS.get(group_by)
    if model is None:
        return {}
    return dict(db.session.execute(select(model.id, model.name).where(model.id.in_(keys))).tuples().all())


def _with_rates(row: dict) -> dict:
    amounts = ("overdue_avg_s", "overdue_max_s")
    row = {name: value if name == "key" else _whole(value) if name in amounts else (value or 0)
           for name, value in row.items()}
    for rate, (numerator, denominators) in RATES.items():
        denominator = row[denominators[0]] - sum(row[d] for d in denominators[1:])
        row[rate] = round(row[numerator] / denominator, 4) if denominator else None
    return row


def drill(*, actor: User, now: datetime, start: datetime, end: datetime, figure: str,
          group_by: str | None = None, key=None, tz: str, limit: int = 1000) -> list[int]:
    """The ids of the problems behind one figure (of one group, when given)."""
    conds = conditions(now) | {f"left_{stage}": _left_stage(stage) for stage in STAGES}
    if figure not in conds:
        raise Invalid("unknown figure", errors={"figure": list(conds)})
    stmt = select(Problem.id).where(_period_filter(actor, start, end), conds[figure])
    if group_by is not None:
        if group_by not in GROUPS:
            raise Invalid("unknown grouping", errors={"group_by": list(GROUPS)})
        expr, joins = _key(group_by, tz, start, actor)
        stmt = _joined(stmt, joins).where(expr == key)
    return list(db.session.scalars(stmt.order_by(Problem.id).limit(limit)))


# --- the unit evaluation (综合评价) -----------------------------------------------------------

# Patrol indicators (workflow/patrols/coverage.py) by the unit that owns the plans: name -> (figures, volume).
PATROL_INDICATORS = {"patrol_completion_rate": ("completion_rate", ("scheduled", "pending")),
                     "checkpoint_coverage": ("checkpoint_coverage", ("points_planned",))}


def _volume(row: dict, denominator: tuple) -> int:
    """How many cases a rate's denominator counts (its volume)."""
    return (row.get(denominator[0]) or 0) - sum(row.get(name) or 0 for name in denominator[1:])


def load_indicators(path: str) -> list[dict]:
    """The evaluation's weighted indicators from a TOML file (config/defaults/evaluation.toml), checked."""
    spec = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    indicators = spec.get("indicators")
    if not isinstance(indicators, list) or not indicators:
        raise ValueError(f"{path}: give at least one [[indicators]]")
    for indicator in indicators:
        _check_indicator(path, indicator)
    if len({indicator["name"] for indicator in indicators}) != len(indicators):
        raise ValueError(f"{path}: an indicator is listed twice")
    return [{"name": i["name"], "weight": i["weight"], "better": i["better"], "min_volume": i.get("min_volume", 0)}
            for i in indicators]


def _check_indicator(path: str, indicator: dict) -> None:
    name, weight, better = indicator.get("name"), indicator.get("weight"), indicator.get("better")
    if name not in RATES and name not in PATROL_INDICATORS:
        raise ValueError(f"{path}: unknown indicator {name!r}; choose from "
                         f"{', '.join([*RATES, *PATROL_INDICATORS])}")
    if not isinstance(weight, int | float) or isinstance(weight, bool) or weight <= 0:
        raise ValueError(f"{path}: the weight of {name} must be a positive number")
    if better not in ("higher", "lower"):
        raise ValueError(f"{path}: `better` of {name} is higher or lower")
    _check_min_volume(path, name, indicator.get("min_volume", 0))


def _check_min_volume(path: str, name: str, minimum) -> None:
    if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 0:
        raise ValueError(f"{path}: min_volume of {name} must be a whole number, 0 or more")


def evaluate(*, actor: User, now: datetime, start: datetime, end: datetime, tz: str, indicators: list[dict]) -> dict:
    """Score and rank the units responsible for the problems reported in [start, end) and the units owning
    patrol plans whose rounds started then.

    A unit's score is 100 × Σ weight × goodness / Σ weight over the indicators it has a value for (goodness:
    the rate, or 1 − the rate when lower is better). A unit below an indicator's `min_volume` (the cases the
    rate's denominator counts) is shown with its values and score but `rank: null, insufficient_data: true`,
    as is a unit with no value at all. Equal scores share a rank (1, 2, 2, 4)."""
    from workflow.patrols import coverage  # coverage builds on this module's SQL helpers

    figures = summary(actor=actor, now=now, start=start, end=end, group_by="unit", tz=tz, with_stage_times=False)
    problems = {row["key"]: row for row in figures["rows"]}
    patrols = coverage.by_unit(actor=actor, start=start, end=end, tz=tz)
    missing = [key for key in patrols if key not in problems]
    labels = _labels("unit", missing)
    rows = [_score(unit_id, problems.get(unit_id), patrols.get(unit_id, {}), labels, indicators)
            for unit_id in [*problems, *missing]]
    rows.sort(key=lambda r: (r["rank_free"], r["score"] is None, -(r["score"] or 0), r["label"]))
    _rank(rows)
    return {"from": start, "to": end, "indicators": indicators, "rows": rows}


def _score(unit_id: int, problems: dict | None, patrols: dict, labels: dict, indicators: list[dict]) -> dict:
    """One unit's values, volumes and score; `rank_free` when it cannot be ranked."""
    values, short = {}, False
    for i in indicators:
        figure, denominator, row = _source(i["name"], problems or {}, patrols)
        values[i["name"]] = row.get(figure)
        short = short or _volume(row, denominator) < i.get("min_volume", 0)
    score = _weighted(values, indicators)
    label = problems["label"] if problems else labels.get(unit_id, str(unit_id))
    return {"unit_id": unit_id, "label": label, "reported": problems["reported"] if problems else 0,
            "score": score, "values": values, "rank_free": short or score is None}


def _weighted(values: dict, indicators: list[dict]) -> float | None:
    """100 × Σ weight × goodness / Σ weight over the indicators with a value; None without any."""
    scored = [(i["weight"], value if i["better"] == "higher" else 1 - value)
              for i in indicators if (value := values[i["name"]]) is not None]
    weight = sum(w for w, _ in scored)
    return round(100 * sum(w * goodness for w, goodness in scored) / weight, 2) if weight else None


def _source(name: str, problems: dict, patrols: dict) -> tuple[str, tuple, dict]:
    """Where an indicator's value lives: (figure, its rate's denominator, the unit's row of figures)."""
    if name in PATROL_INDICATORS:
        return *PATROL_INDICATORS[name], patrols
    return name, RATES[name][1], problems


def _rank(rows: list[dict]) -> None:
    """Ranks down the sorted rows: equal scores share one (1, 2, 2, 4); a unit below a minimum volume or
    without a score has none and is marked `insufficient_data`."""
    ranked = [row for row in rows if not row["rank_free"]]
    for index, row in enumerate(ranked):
        same = index and ranked[index - 1]["score"] == row["score"]
        row["rank"] = ranked[index - 1]["rank"] if same else index + 1
    for row in rows:
        row.setdefault("rank", None)
        row["insufficient_data"] = row.pop("rank_free")
