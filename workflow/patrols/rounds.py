"""Patrol rounds: made ahead by the scheduler, opened and missed on time, walked and proven by check-ins."""

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import cast, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from models import ChecklistOutcome, PatrolCheckin, PatrolPlan, PatrolRound, Point, Problem, User
from models.base import db, dialect_name, mark_written, upsert
from models.enums import NotificationType, Role, RoundState, State
from models.patrol import LIVE_ROUNDS
from workflow import tally
from workflow.calendar import CLOCK_SKEW, WorkCalendar, load_calendar
from workflow.errors import Conflict, Forbidden, Invalid, NotFound, Stale
from workflow.geo import haversine_m
from workflow.inspections import tasks as inspection_tasks
from workflow.notifications import outbox, work
from workflow.patrols.plans import Window, runs_on, windows_between
from workflow.problems import reporting
from workflow.scope import subtree_ids

HORIZON = timedelta(hours=48)
LONGEST_WINDOW = timedelta(hours=24)
STARTED = (RoundState.IN_PROGRESS, RoundState.COMPLETED, RoundState.COMPLETED_LATE, RoundState.INCOMPLETE)


# --- the scheduler's side --------------------------------------------------------------------

def materialize_rounds(*, now: datetime, horizon: timedelta = HORIZON) -> int:
    """Make a round for every window up to now + horizon, once; windows passed in downtime are missed."""
    calendar = load_calendar(db.session)
    running = (PatrolPlan.paused.is_(False), PatrolPlan.active.is_(True))
    plans = db.session.scalars(select(PatrolPlan).where(*running).order_by(PatrolPlan.id)
                               .with_for_update(skip_locked=True)).all()  # a plan being edited waits a tick
    until = now + horizon
    windows = {}
    for plan in plans:
        if plan.watermark is None:  # the first tick that sees the plan: no backfill before it
            windows[plan.id] = [w for w in windows_between(plan, calendar, now - LONGEST_WINDOW, until) if w.end > now]
        else:
            windows[plan.id] = windows_between(plan, calendar, plan.watermark, until)
        plan.watermark = max(until, plan.watermark or until)
    # Every plan's checklist facts in a few statements, every round in a few inserts: a tick over a thousand
    # plans costs what one plan used to (bench/RESULTS.md).
    facts = _Facts.load([(plan, [w.start for w in windows[plan.id]]) for plan in plans])
    rows = [_round_row(plan, window, now, calendar, facts) for plan in plans for window in windows[plan.id]]
    made = _insert_rounds(rows, now)
    db.session.flush()
    return made


def _round_row(plan: PatrolPlan, window: Window, now: datetime, calendar: WorkCalendar, facts: "_Facts") -> dict:
    passed = window.end + timedelta(minutes=plan.late_grace_minutes) <= now
    return {"plan_id": plan.id, "label": window.label, "planned_start": window.start, "planned_end": window.end,
            "grace_minutes": plan.late_grace_minutes, "state": RoundState.MISSED if passed else RoundState.SCHEDULED,
            "missed_reason": "not_opened" if passed else None, "officer_ids": _officers(plan, window, calendar),
            "checklist": build_checklist(plan, window.start, facts),
            "focus_categories": list(window.focus_categories), "created_at": now, "updated_at": now}


def _insert_rounds(rows: list[dict], now: datetime) -> int:
    """Insert the rounds that do not exist yet (one live round per plan and start); return how many.

    One statement compiled once and sent with all the rows (SQLAlchemy batches them into multi-row INSERTs):
    a statement with the values inlined was compiled anew for every batch, which cost more than the insert."""
    if not rows:
        return 0
    live = text(LIVE_ROUNDS)
    stmt = (upsert(PatrolRound).on_conflict_do_nothing(index_elements=["plan_id", "planned_start"], index_where=live)
            .returning(PatrolRound.id, PatrolRound.state))
    made = db.session.execute(stmt, rows).all()
    for round_id, state in sorted(made):
        tally.count("round_made")
        if state == RoundState.MISSED:  # a window that passed while the scheduler was down
            _announce_missed(round_id, now)
            tally.count("round_missed", reason="not_opened")
    return len(made)


def _officers(plan: PatrolPlan, window: Window, calendar: WorkCalendar) -> list[int]:
    """Fixed posts keep their team; dynamic plans rotate one officer per round, round-robin over the
    rounds the plan really has (days it does not run are skipped), the same for every tick."""
    if plan.mode == "fixed_post":
        return list(plan.officer_ids)
    team, per_day = len(plan.officer_ids), len(plan.windows)
    day = sum(runs_on(plan, plan.active_from + timedelta(days=n), calendar)
              for n in range((window.day - plan.active_from).days))
    # When the windows of a day are a multiple of the team, plain round-robin would give each officer the
    # same window every day: shift by a day so the early and late windows go round too.
    turn = day * per_day + window.index + (day if per_day % team == 0 else 0)
    return [plan.officer_ids[turn % team]]


def _points(plan: PatrolPlan, start: datetime, points: list[int]) -> list[int]:
    """The points a round walks, in order: the plan's route, or for a dynamic plan a sample shuffled per round."""
    if plan.mode != "dynamic":
        return points
    rng = random.Random(f"{plan.seed}:{start.isoformat()}")  # reproducible per round, secret per plan
    return rng.sample(points, min(plan.sample_size or len(points), len(points)))


def _follow_day_start(plan: PatrolPlan, start: datetime) -> datetime:
    """The local midnight that begins the day `follow_up_days` before the round's day."""
    tz = ZoneInfo(plan.timezone)
    follow_day = start.astimezone(tz).date() - timedelta(days=plan.follow_up_days)
    return datetime.combine(follow_day, datetime.min.time(), tzinfo=tz)


@dataclass
class _Facts:
    """What the checklists of a tick's rounds read, fetched in a few statements for every plan at once."""

    points: dict[int, list[int]]  # plan id -> its points in route order
    verifying: dict[int, list[int]]  # point id -> problems there waiting for on-site verification
    closed: dict[int, list[tuple[int, datetime]]]  # point id -> (problem, closed_at) within the follow-up days
    hot: dict[int, datetime]  # point id -> hot until

    @classmethod
    def load(cls, plans: list[tuple[PatrolPlan, list[datetime]]]) -> "_Facts":
        """The facts for these plans' rounds starting at the given instants."""
        points = _points_of([plan for plan, _ in plans])
        everywhere = sorted({point for route in points.values() for point in route})
        spans = [(_follow_day_start(plan, min(starts)), _follow_day_start(plan, max(starts)) + timedelta(days=1))
                 for plan, starts in plans if starts]
        facts = cls(points, defaultdict(list), defaultdict(list), {})
        if not everywhere or not spans:
            return facts
        facts._load_problems(everywhere, min(first for first, _ in spans), max(last for _, last in spans))
        hot = select(Point.id, Point.hot_until).where(Point.id.in_(everywhere), Point.hot_until.is_not(None))
        facts.hot = dict(db.session.execute(hot).tuples().all())
        return facts

    def _load_problems(self, everywhere: list[int], since: datetime, until: datetime) -> None:
        """Problems at these points waiting for verification, and those closed in [since, until)."""
        at_points = Problem.point_id.in_(everywhere)
        verifying = select(Problem.id, Problem.point_id).where(at_points, Problem.state == State.VERIFYING)
        for problem_id, point in db.session.execute(verifying.order_by(Problem.id)):
            self.verifying[point].append(problem_id)
        closed = select(Problem.id, Problem.point_id, Problem.closed_at).where(
            at_points, Problem.state == State.CLOSED, Problem.closed_at >= since, Problem.closed_at < until)
        for problem_id, point, closed_at in db.session.execute(closed.order_by(Problem.id)):
            self.closed[point].append((problem_id, closed_at))


def _points_of(plans: list[PatrolPlan]) -> dict[int, list[int]]:
    """Each plan's points in route order (a grid's points by id), the grids' in one statement."""
    grids = {plan.grid_id for plan in plans if not plan.point_ids}
    by_grid: dict[int, list[int]] = defaultdict(list)
    if grids:
        for grid_id, point_id in db.session.execute(select(Point.grid_id, Point.id).where(Point.grid_id.in_(grids))
                                                    .order_by(Point.id)):
            by_grid[grid_id].append(point_id)
    return {plan.id: list(plan.point_ids) if plan.point_ids else list(by_grid[plan.grid_id]) for plan in plans}


def build_checklist(plan: PatrolPlan, start: datetime, facts: _Facts | None = None) -> dict:
    """Points to walk; problems there waiting for on-site verification (复查) or a follow-up look (回头看);
    hot points that escalation flagged. `facts` may come preloaded for many rounds."""
    facts = facts or _Facts.load([(plan, [start])])
    route = facts.points[plan.id]
    points = _points(plan, start, route)
    day_start = _follow_day_start(plan, start)
    day_end = day_start + timedelta(days=1)
    walked = set(points)
    return {"point_ids": points,
            "verify_problem_ids": sorted(pid for point in walked for pid in facts.verifying.get(point, ())),
            "follow_up_problem_ids": sorted(pid for point in walked for pid, closed_at in facts.closed.get(point, ())
                                            if day_start <= closed_at < day_end),
            "hot_point_ids": sorted(point for point in set(route) if point in facts.hot and facts.hot[point] > start)}


def advance_rounds(*, now: datetime) -> dict[str, int]:
    """Open rounds whose window began; mark missed those with no check-in by the end plus grace.

    Each change is a compare-and-set on the state, so an officer's check-in racing this tick, or a second
    scheduler, never has a round missed twice or a walked round marked missed."""
    due = db.session.scalars(select(PatrolRound).where(
        PatrolRound.state.in_((RoundState.SCHEDULED, RoundState.OPEN, RoundState.IN_PROGRESS)),
        PatrolRound.planned_start <= now)
        .order_by(PatrolRound.planned_start, PatrolRound.id)).all()
    counts = {"opened": 0, "missed": 0, "incomplete": 0}
    for round_ in due:
        ended = round_.planned_end + timedelta(minutes=round_.grace_minutes) <= now
        if round_.state == RoundState.IN_PROGRESS:
            # Started and never completed: closed as incomplete once its window and grace are over, with the
            # check-ins it has (coverage counts them); the officer may still complete it later.
            counts["incomplete"] += ended and _close_incomplete(round_, now)
        elif ended:
            reason = "not_opened" if round_.state == RoundState.SCHEDULED else "no_checkin"
            if _move(round_, now, state=RoundState.MISSED, missed_reason=reason):
                _announce_missed(round_.id, now)
                tally.count("round_missed", reason=reason)
                counts["missed"] += 1
        elif round_.state == RoundState.SCHEDULED:
            checklist = with_carried_over(round_, with_inspection_tasks(
                build_checklist(round_.plan, round_.planned_start)))
            counts["opened"] += _move(round_, now, state=RoundState.OPEN, checklist=checklist)
    return counts


def with_inspection_tasks(checklist: dict) -> dict:
    """The checklist of a round that opens, plus the open re-inspections and expiry re-checks of the parties at
    its points (the gas-safety ledger's tasks: workflow/inspections/tasks.py)."""
    return checklist | {"inspection_task_ids": inspection_tasks.open_at_points(checklist["point_ids"])}


def _move(round_: PatrolRound, now: datetime, **values) -> bool:
    """Change a round only if its state is still the one we read."""
    values["updated_at"] = now
    stmt = (update(PatrolRound).where(PatrolRound.id == round_.id, PatrolRound.state == round_.state)
            .values(**values).returning(PatrolRound.id)
            .execution_options(synchronize_session=False))
    if db.session.execute(stmt).first() is None:
        return False
    mark_written(round_, values)  # keep the loaded object true to the row
    return True


def _close_incomplete(round_: PatrolRound, now: datetime) -> bool:
    """Close a round started and never completed (compare-and-set, like every scheduler change)."""
    if not _move(round_, now, state=RoundState.INCOMPLETE):
        return False
    tally.count("round_closed_incomplete")
    return True


def _move_or_stale(round_: PatrolRound, now: datetime, **values) -> None:
    """An officer's change, compare-and-set like the scheduler's: if someone moved the round since we read it,
    412 as for a problem (decision 0035); the retry then answers from the state the round is in."""
    read = round_.state
    if not _move(round_, now, **values):
        db.session.expire(round_)
        raise Stale(f"the round changed while this was applied (it was {read})",
                    extra={"state": db.session.get(PatrolRound, round_.id).state})


def _announce_missed(round_id: int, now: datetime) -> None:
    round_ = db.session.get(PatrolRound, round_id)
    outbox.enqueue(topic="round.missed", now=now, payload={"round_id": round_id, "data": outbox.round_data(round_)})
    work.on_round(round_=round_, kind=NotificationType.ROUND_MISSED, now=now)


# --- the officer's side ----------------------------------------------------------------------

def visible_rounds(actor: User):
    """The SQL condition for the rounds `actor` may see: their own, or their units' plans'."""
    if actor.role == Role.ADMIN:
        return PatrolRound.id.is_not(None)
    if actor.role == Role.SUPERVISOR:
        return PatrolRound.plan_id.in_(select(PatrolPlan.id).where(PatrolPlan.unit_id.in_(subtree_ids(actor.unit))))
    if actor.role == Role.OFFICER:  # their rounds, and those of plans whose team they are in
        return or_(PatrolRound.id.in_(having_member(PatrolRound, actor.id)),
                   PatrolRound.plan_id.in_(having_member(PatrolPlan, actor.id)))
    return PatrolRound.id.is_(None)


def rounds_of(officer_id: int):
    """The ids of the rounds an officer walks (a subquery)."""
    return having_member(PatrolRound, officer_id)


def having_member(model, officer_id: int):
    """Ids of the rows (rounds or plans) whose JSON list officer_ids holds the officer. PostgreSQL answers
    rounds from a GIN index on `officer_ids::jsonb` (migration f1a2b3c4d5e6), not by scanning every round."""
    if dialect_name() == "postgresql":
        return select(model.id).where(cast(model.officer_ids, JSONB).contains([officer_id]))
    members = func.json_each(model.officer_ids).table_valued("value")
    return select(model.id).join(members, members.c.value == officer_id)


def get_round(*, actor: User, round_id: int) -> PatrolRound:
    round_ = db.session.scalars(select(PatrolRound).where(PatrolRound.id == round_id, visible_rounds(actor))).first()
    if round_ is None:
        raise NotFound(f"patrol round {round_id} not found")
    return round_


def list_rounds(*, actor: User, plan_id=None, state=None, officer_id=None, start=None, end=None):
    """The statement for a filtered list of rounds, oldest window first (paged by the caller)."""
    own = officer_id is not None and officer_id == actor.id  # one's own rounds are visible: let the index find them
    stmt = select(PatrolRound) if own else select(PatrolRound).where(visible_rounds(actor))
    conds = [PatrolRound.plan_id == plan_id if plan_id else None,
             PatrolRound.state.in_(state) if state else None,
             PatrolRound.id.in_(rounds_of(officer_id)) if officer_id else None,
             PatrolRound.planned_start >= start if start else None,
             PatrolRound.planned_start < end if end else None]
    return stmt.where(*[cond for cond in conds if cond is not None])


def _walker(actor: User, round_: PatrolRound) -> None:
    if actor.role != Role.OFFICER or actor.id not in round_.officer_ids:
        raise Forbidden("only the round's officers walk it")


def _in_window(round_: PatrolRound, at: datetime) -> bool:
    grace = timedelta(minutes=round_.grace_minutes)
    return round_.planned_start - grace <= at <= round_.planned_end + grace


def start_round(*, actor: User, now: datetime, round_id: int, at: datetime | None = None) -> PatrolRound:
    """Start walking: open (or missed, when the phone's time shows it was walked in the window) → in_progress."""
    round_ = get_round(actor=actor, round_id=round_id)
    _walker(actor, round_)
    at = at or now
    if round_.state in STARTED:
        return round_
    if round_.state not in (RoundState.OPEN, RoundState.MISSED) or not _in_window(round_, at):
        raise Conflict(f"a {round_.state} round cannot be started at {at.isoformat()}",
                       extra={"state": round_.state})
    if not _move(round_, now, state=RoundState.IN_PROGRESS, started_at=at, missed_reason=None):
        # The scheduler may have marked it missed meanwhile: a walk inside the window revives a missed round,
        # so that change is taken over once; anyone else's change (started, cancelled) is 412.
        db.session.refresh(round_)
        if round_.state != RoundState.MISSED:
            raise Stale(f"the round changed while this was applied (it is {round_.state} now)",
                        extra={"state": round_.state})
        _move_or_stale(round_, now, state=RoundState.IN_PROGRESS, started_at=at, missed_reason=None)
    return round_


def check_in(*, actor: User, now: datetime, round_id: int, point_id: int, lat: float, lng: float,
             result: str, at: datetime | None = None, note: str | None = None,
             client_id: str | None = None) -> tuple[PatrolCheckin, bool]:
    """Record a check-in at a checklist point; retries by client_id return the first one."""
    round_ = get_round(actor=actor, round_id=round_id)
    _walker(actor, round_)
    if client_id is not None and (existing := _checkin_by_client_id(actor, client_id)):
        return existing, False
    at = at or now
    if point_id not in _checkable_points(round_):
        raise Invalid("the point is not on this round's checklist", errors={"point_id": ["not on the checklist"]})
    if round_.state in (RoundState.SCHEDULED, RoundState.CANCELLED):
        raise Conflict(f"a {round_.state} round takes no check-ins", extra={"state": round_.state})
    point = db.session.get(Point, point_id)
    distance = haversine_m(lat, lng, point.lat, point.lng)
    flags = [name for name, on in (("far_from_point", distance > round_.plan.checkin_radius_m),
                                   ("outside_window", not _in_window(round_, at)),
                                   ("in_future", at > now + CLOCK_SKEW)) if on]
    if round_.state in (RoundState.OPEN, RoundState.MISSED) and "outside_window" not in flags:
        start_round(actor=actor, now=now, round_id=round_id, at=at)
    checkin = PatrolCheckin(round_id=round_.id, point_id=point_id, officer_id=actor.id, at=at, received_at=now,
                            result=result, note=note, lat=lat, lng=lng, distance_m=round(distance, 1),
                            flags=flags, client_id=client_id)
    return _insert_checkin(checkin, actor)


def _insert_checkin(checkin: PatrolCheckin, actor: User) -> tuple[PatrolCheckin, bool]:
    try:
        with db.session.begin_nested():
            db.session.add(checkin)
    except IntegrityError:
        existing = _checkin_by_client_id(actor, checkin.client_id) if checkin.client_id else None
        if existing is None:
            raise
        return existing, False
    return checkin, True


def _checkin_by_client_id(actor: User, client_id: str) -> PatrolCheckin | None:
    stmt = select(PatrolCheckin).where(PatrolCheckin.officer_id == actor.id, PatrolCheckin.client_id == client_id)
    return db.session.scalars(stmt).first()


def _checkable_points(round_: PatrolRound) -> set[int]:
    return set(round_.checklist.get("point_ids", [])) | set(round_.checklist.get("hot_point_ids", []))


def list_checkins(*, actor: User, round_id: int) -> list[PatrolCheckin]:
    get_round(actor=actor, round_id=round_id)
    stmt = select(PatrolCheckin).where(PatrolCheckin.round_id == round_id).order_by(PatrolCheckin.id)
    return list(db.session.scalars(stmt))


def report_finding(*, actor: User, now: datetime, round_id: int, point_id: int, **report) -> tuple[Problem, bool]:
    """Report a problem found on the round, through the same workflow as any report."""
    round_ = get_round(actor=actor, round_id=round_id)
    _walker(actor, round_)
    if round_.state in (RoundState.SCHEDULED, RoundState.CANCELLED):
        raise Conflict(f"a {round_.state} round has no findings yet", extra={"state": round_.state})
    if point_id not in _checkable_points(round_):
        raise Invalid("the point is not on this round's checklist", errors={"point_id": ["not on the checklist"]})
    return reporting.report_problem(actor=actor, now=now, point_id=point_id, round_id=round_.id, **report)


OUTCOMES = ("still_there", "fixed", "not_seen")


def record_outcome(*, actor: User, now: datetime, round_id: int, problem_id: int, outcome: str,
                   note: str | None = None) -> tuple[ChecklistOutcome, bool]:
    """Record what the round found of a problem its checklist lists for verification or a follow-up look:
    still there (a finding linked to the round is reported for it), fixed, or not seen. Once per problem and
    round: a repeat answers with the first record."""
    round_ = get_round(actor=actor, round_id=round_id)
    _walker(actor, round_)
    kind = _listed_as(round_, problem_id)
    if outcome not in OUTCOMES:
        raise Invalid(f"unknown outcome {outcome!r}", errors={"outcome": [" | ".join(OUTCOMES)]})
    if round_.state in (RoundState.SCHEDULED, RoundState.CANCELLED):
        raise Conflict(f"a {round_.state} round records nothing yet", extra={"state": round_.state})
    existing = db.session.scalars(select(ChecklistOutcome).where(ChecklistOutcome.round_id == round_.id,
                                                                 ChecklistOutcome.problem_id == problem_id)).first()
    if existing is not None:
        return existing, False
    record = ChecklistOutcome(round_id=round_.id, problem_id=problem_id, kind=kind, outcome=outcome, note=note,
                              recorded_by_id=actor.id, recorded_at=now)
    if outcome == "still_there":
        listed = db.session.get(Problem, problem_id)
        finding, _ = reporting.report_problem(actor=actor, now=now, point_id=listed.point_id, round_id=round_.id,
                                              category_code=listed.category.code, title=listed.title[:200],
                                              description=note)
        record.finding_id = finding.id
    db.session.add(record)
    db.session.flush()
    return record, True


def _listed_as(round_: PatrolRound, problem_id: int) -> str:
    """verify or follow_up: how the round's checklist lists the problem (422 when it does not)."""
    for kind, key in (("verify", "verify_problem_ids"), ("follow_up", "follow_up_problem_ids")):
        if problem_id in round_.checklist.get(key, []):
            return kind
    raise Invalid("the problem is not on this round's checklist", errors={"problem_id": ["not on the checklist"]})


def outcomes_of(round_id: int) -> list[ChecklistOutcome]:
    """What a round recorded of its listed problems, in order."""
    return list(db.session.scalars(select(ChecklistOutcome).where(ChecklistOutcome.round_id == round_id)
                                   .order_by(ChecklistOutcome.id)))


def with_carried_over(round_: PatrolRound, checklist: dict) -> dict:
    """回头看 is not lost: the verification and follow-up items of the plan's earlier missed or incomplete rounds
    that nobody has recorded yet join the checklist of the round that opens (decision 0037)."""
    earlier = db.session.scalars(select(PatrolRound.checklist).where(
        PatrolRound.plan_id == round_.plan_id, PatrolRound.planned_start < round_.planned_start,
        PatrolRound.state.in_((RoundState.MISSED, RoundState.INCOMPLETE)))).all()
    wanted = {key: {pid for listed in earlier for pid in listed.get(key, [])}
              for key in ("verify_problem_ids", "follow_up_problem_ids")}
    everything = set().union(*wanted.values())
    if not everything:
        return checklist
    recorded = set(db.session.scalars(select(ChecklistOutcome.problem_id)
                                      .where(ChecklistOutcome.problem_id.in_(everything))))
    gone = set(db.session.scalars(select(Problem.id).where(Problem.id.in_(everything),
                                                           Problem.state == State.CANCELLED)))
    return checklist | {key: sorted(set(checklist.get(key, [])) | (ids - recorded - gone))
                        for key, ids in wanted.items()}


def complete_round(*, actor: User, now: datetime, round_id: int, at: datetime | None = None) -> PatrolRound:
    """Finish walking: completed, or completed_late after the window's end plus grace (also a round the
    scheduler closed as incomplete, when the phone comes back online)."""
    round_ = get_round(actor=actor, round_id=round_id)
    _walker(actor, round_)
    if round_.state in (RoundState.COMPLETED, RoundState.COMPLETED_LATE):
        return round_
    if round_.state not in (RoundState.IN_PROGRESS, RoundState.INCOMPLETE):
        raise Conflict(f"a {round_.state} round cannot be completed; start it first", extra={"state": round_.state})
    at = at or now
    if round_.started_at is not None and at < round_.started_at:
        raise Invalid("a round cannot end before it started", errors={"at": ["before the round started"]})
    late = at > round_.planned_end + timedelta(minutes=round_.grace_minutes)
    _move_or_stale(round_, now, state=RoundState.COMPLETED_LATE if late else RoundState.COMPLETED, completed_at=at)
    tally.count("round_completed", state=round_.state)
    if unvisited_points(round_):
        tally.count("round_incomplete")
        work.on_round(round_=round_, kind=NotificationType.ROUND_INCOMPLETE, now=now)
    return round_


def unvisited_points(round_: PatrolRound) -> set[int]:
    """The route points of a round's checklist nobody checked in at."""
    checked = db.session.scalars(select(PatrolCheckin.point_id).where(PatrolCheckin.round_id == round_.id))
    return set(round_.checklist.get("point_ids", [])) - set(checked)
