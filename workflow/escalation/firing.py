"""The escalation sweep: fires each due step of every rule once per clock cycle and remembers when to look next."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from models import EscalationFiring, EscalationRule, Point, Problem, Unit
from models.base import db, mark_written
from models.enums import FINISHED_STATES, Action, NotificationType, Severity, Stage, State, Trigger
from workflow import tally
from workflow.notifications import inbox, outbox
from workflow.problems import clocks
from workflow.problems.events import Entry, EventBatch
from workflow.scope import subtree_ids

TRIGGERS = tuple(trigger.value for trigger in Trigger)
STAGE_TRIGGERS = (Trigger.BEFORE_DUE, Trigger.AT_DUE, Trigger.AFTER_DUE, Trigger.NOT_DISPATCHED)
SEVERITY_UP = {Severity.LOW.value: Severity.NORMAL.value, Severity.NORMAL.value: Severity.HIGH.value,
               Severity.HIGH.value: Severity.URGENT.value}
QUIET = (*FINISHED_STATES, State.SUSPENDED)  # suspended (挂账) problems fire nothing until they resume
BATCH = 500
MAX_RETRIES = 20  # rules or problems set aside in one sweep before it gives up
PROBLEM_RETRY = timedelta(hours=1)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """A rule's step on one problem: due at `at`, once per clock `cycle`."""

    rule: EscalationRule
    at: datetime
    cycle: int
    stage: str | None
    deadline: datetime | None
    related: tuple[int, ...] = ()  # recurrence: the other problems recurring with this one (looked up once)


# --- when each trigger is due ----------------------------------------------------------------

def step_of(rule: EscalationRule, problem: Problem, scopes: dict[int, set[int]]) -> Step | None:
    """When `rule` is due on `problem` in its current clock cycle, or None if it does not apply."""
    if not _applies(rule, problem, scopes):
        return None
    if rule.trigger in STAGE_TRIGGERS:
        return _stage_step(rule, problem)
    if rule.trigger == Trigger.REWORK:
        return Step(rule, problem.updated_at, 0, None, None) if problem.rework_count >= rule.threshold else None
    if rule.trigger == Trigger.RECURRENCE:
        recurring = _recurring(rule, problem)
        related = tuple(pid for pid in recurring if pid != problem.id)
        return Step(rule, problem.reported_at, 0, None, None, related) if len(recurring) >= rule.threshold else None
    if problem.extension_requested_at is None:  # extension_pending
        return None
    return Step(rule, problem.extension_requested_at + timedelta(minutes=rule.after_minutes),
                problem.extension_count, problem.stage, None)


def _applies(rule: EscalationRule, problem: Problem, scopes: dict[int, set[int]]) -> bool:
    if problem.state in QUIET:
        return False
    if rule.categories and problem.category.code not in rule.categories:
        return False
    if rule.severities and problem.severity not in rule.severities:
        return False
    return rule.unit_id is None or bool({problem.grid_unit_id, problem.unit_id} & scopes[rule.id])


def _stage_step(rule: EscalationRule, problem: Problem) -> Step | None:
    stage = rule.stage or problem.stage
    if stage == Stage.WHOLE:
        start, due, cycle = problem.whole_started_at, problem.due_at, 0
    elif stage == problem.stage:
        start, due, cycle = problem.stage_started_at, problem.stage_due_at, problem.stage_cycle
    else:
        return None
    if due is None or start is None:  # no limit, or the clocks are paused (挂账)
        return None
    if rule.trigger == Trigger.NOT_DISPATCHED and (problem.state != State.REPORTED or stage != Stage.DISPATCH):
        return None
    at = _instant(rule, problem, stage, start, due)
    return Step(rule, at, cycle, stage, due)


def _instant(rule: EscalationRule, problem: Problem, stage: str, start: datetime, due: datetime) -> datetime:
    if rule.trigger in (Trigger.AT_DUE, Trigger.NOT_DISPATCHED):
        return due
    counter = clocks.Clocks(problem)
    clock = counter.clock_of(stage)
    if rule.trigger == Trigger.AFTER_DUE:
        return counter.add(due, rule.after_minutes, clock)
    if stage == Stage.WHOLE:  # before_due on the whole case: a fraction of its span, suspensions included
        return counter.after(start, int(counter.left(start, due, clock) * rule.fraction), clock)
    # before_due: a fraction of this cycle's limit, in the stage's clock, time suspended not counted
    limit = problem.stage_limit_s if problem.stage_limit_s is not None else counter.left(start, due, clock)
    return counter.after(start, int(limit * rule.fraction) - problem.stage_elapsed_s, clock)


def _recurring(rule: EscalationRule, problem: Problem) -> list[int]:
    """Problems of the same category at the same point within window_days up to this one (itself included)."""
    if problem.point_id is None:
        return []
    since = problem.reported_at - timedelta(days=rule.window_days)
    stmt = select(Problem.id).where(Problem.point_id == problem.point_id, Problem.category_id == problem.category_id,
                                    Problem.reported_at >= since, Problem.reported_at <= problem.reported_at,
                                    Problem.state != State.CANCELLED)
    return list(db.session.scalars(stmt.order_by(Problem.reported_at, Problem.id)))


# --- the sweep -------------------------------------------------------------------------------

def sweep(*, now: datetime) -> list[str]:
    """Fire every step that is due by `now`, oldest first, each once; say what fired.

    One rule or problem the sweep cannot handle stops nothing else: the batch is rolled back to a savepoint
    and run again without the culprit — a rule that fails is marked failing (with its error) and skipped until
    someone edits it; a problem that fails under two rules is set aside for an hour (docs/decisions/0020).
    """
    trouble = _Trouble()
    for _ in range(MAX_RETRIES):
        try:
            with db.session.begin_nested():
                fired = _sweep_once(now, trouble)
        except Exception as error:  # isolate whatever one rule or problem raises
            if not trouble.blame(error):
                raise
            continue
        trouble.settle(now)
        return fired
    raise RuntimeError(f"escalation sweep gave up after {MAX_RETRIES} failing rules or problems")


class _Trouble:
    """What failed in this sweep: the rule and problem being handled, the rules and problems set aside."""

    def __init__(self):
        self.at: tuple[int, int] | None = None  # (rule id, problem id) being handled
        self.rules: dict[int, tuple[int, str]] = {}  # rule id -> (problem id, error)
        self.problems: dict[int, str] = {}  # problem id -> error

    def blame(self, error: Exception) -> bool:
        """Set aside the rule (or, when a second rule fails on the same problem, the problem) that raised."""
        if self.at is None:
            return False
        rule_id, problem_id = self.at
        self.at = None
        text = f"{type(error).__name__}: {error}"[:500]
        log.exception("escalation rule %d failed on problem %d", rule_id, problem_id,
                      extra={"rule_id": rule_id, "problem_id": problem_id})
        blamed_here = [r for r, (p, _) in self.rules.items() if p == problem_id]
        if blamed_here:  # two rules fail on one problem: the problem is at fault, not the rules
            self.problems[problem_id] = text
            for rule in blamed_here:
                del self.rules[rule]
        else:
            self.rules[rule_id] = (problem_id, text)
        return True

    def skips(self, rule: EscalationRule, problem: Problem) -> bool:
        return rule.id in self.rules or problem.id in self.problems

    def settle(self, now: datetime) -> None:
        """Record the rules that failed (skipped until edited) and hold the failing problems back an hour."""
        for rule_id, (_, text) in self.rules.items():
            db.session.execute(update(EscalationRule).where(EscalationRule.id == rule_id)
                               .values(failing_since=now, last_error=text)
                               .execution_options(synchronize_session=False))
        for problem_id in self.problems:
            db.session.execute(update(Problem).where(Problem.id == problem_id)
                               .values(next_check_at=now + PROBLEM_RETRY)
                               .execution_options(synchronize_session=False))


class _Effects:
    """What a pass's fired steps write besides the problems' marks, kept as plain rows and inserted together
    at the end with Core executemany (no ORM object per fired step): events, inbox items, outbox messages."""

    def __init__(self):
        self.events = EventBatch()
        self.items: list[dict] = []
        self.messages: list[dict] = []
        self.audience: dict[tuple, list[int]] = {}  # who hears, by unit, handler and targets: asked once per sweep

    def insert(self) -> None:
        self.events.insert()
        inbox.send_many(self.items)
        outbox.enqueue_many(self.messages)


def _sweep_once(now: datetime, trouble: _Trouble) -> list[str]:
    """One pass over a batch of due problems (locked, so nobody else writes them meanwhile).

    It costs a few statements plus one per recurrence look-up: the firings are claimed with one SELECT and one
    INSERT, the chain heads read in one SELECT, the problems written in one executemany, and the events, inbox items and
    outbox rows inserted as plain rows, one executemany each (bench/RESULTS.md, docs/decisions/0122).
    """
    due, steps = _due_steps(now, trouble)
    ripe = {problem_id: sorted((s for s in found if s.at <= now), key=lambda s: (s.at, s.rule.level, s.rule.id))
            for problem_id, found in steps.items()}
    claimed = _record(ripe, now)
    fired, changes, effects = [], [], _Effects()
    with db.session.no_autoflush:
        for problem in due:
            fired += _fire_claimed(problem, ripe[problem.id], claimed, trouble,
                                   lambda step, p=problem: _fire(p, step, now, effects))
            changes.append(_marks(problem, steps[problem.id], now))
    if changes:
        db.session.execute(update(Problem), changes)  # by primary key, one executemany
    effects.insert()
    db.session.flush()
    return fired


def _fire_claimed(problem: Problem, ripe: list[Step], claimed: set[tuple], trouble: _Trouble, fire) -> list[str]:
    """Fire the claimed steps of one problem, remembering which rule is at work (for `trouble`)."""
    fired = []
    for step in ripe:
        if (problem.id, step.rule.id, step.rule.level, step.cycle) in claimed:
            trouble.at = (step.rule.id, problem.id)
            fired.append(fire(step))
    trouble.at = None
    return fired


def _due_steps(now: datetime, trouble: _Trouble) -> tuple[list[Problem], dict[int, list[Step]]]:
    """A batch of problems due for a look (locked), and the steps every active, non-failing rule has on each."""
    rules = db.session.scalars(select(EscalationRule).where(EscalationRule.active.is_(True),
                                                            EscalationRule.failing_since.is_(None))
                               .order_by(EscalationRule.id)).all()
    scopes = _scopes(rules)
    due = db.session.scalars(
        select(Problem).where(Problem.next_check_at <= now).order_by(Problem.next_check_at, Problem.id)
        .limit(BATCH).with_for_update(skip_locked=True, of=Problem)
        .execution_options(populate_existing=True)).all()  # a retried pass must not see a rolled-back pass's marks
    due = [problem for problem in due if problem.id not in trouble.problems]
    return due, {problem.id: _steps(rules, problem, scopes, trouble) for problem in due}


def _steps(rules, problem: Problem, scopes: dict[int, set[int]], trouble: _Trouble) -> list[Step]:
    found = []
    for rule in rules:
        if trouble.skips(rule, problem):
            continue
        trouble.at = (rule.id, problem.id)
        if (step := step_of(rule, problem, scopes)) is not None:
            found.append(step)
    trouble.at = None
    return found


def _marks(problem: Problem, steps: list[Step], now: datetime) -> dict:
    """What the sweep writes back to a problem: when to look next, and what its fired steps marked."""
    upcoming = [s.at for s in steps if s.at > now]
    return {"id": problem.id, "next_check_at": min(upcoming, default=None),
            "escalation_level": problem.escalation_level, "supervised": problem.supervised,
            "severity": problem.severity, "last_seq": problem.last_seq}


def _scopes(rules) -> dict[int, set[int]]:
    units = {rule.unit_id for rule in rules if rule.unit_id is not None}
    paths = {unit.id: unit for unit in db.session.scalars(select(Unit).where(Unit.id.in_(units)))}
    return {rule.id: set(db.session.scalars(subtree_ids(paths[rule.unit_id])))
            for rule in rules if rule.unit_id in paths}


def _record(ripe: dict[int, list[Step]], now: datetime) -> set[tuple]:
    """Claim every ripe step's firing; the (problem, rule, level, cycle) keys that were not claimed before.

    Only the sweep writes firings, and it holds the batch's problems locked (FOR UPDATE, skipped by any other
    sweeper), so the firings already made are read in one SELECT and the new ones inserted as plain rows in
    one executemany, without RETURNING (psycopg pipelines them); the unique constraint still refuses a second
    claim outright rather than letting a step fire twice.
    """
    rows = [{"problem_id": problem_id, "rule_id": step.rule.id, "level": step.rule.level, "cycle": step.cycle,
             "due_at": step.at, "fired_at": now} for problem_id, steps in ripe.items() for step in steps]
    if not rows:
        return set()
    made = set(db.session.execute(
        select(EscalationFiring.problem_id, EscalationFiring.rule_id, EscalationFiring.level, EscalationFiring.cycle)
        .where(EscalationFiring.problem_id.in_({row["problem_id"] for row in rows}))).tuples())
    new = [row for row in rows if _key(row) not in made]
    if new:
        db.session.execute(insert(EscalationFiring.__table__), new)
    return {_key(row) for row in new}


def _key(row: dict) -> tuple:
    return row["problem_id"], row["rule_id"], row["level"], row["cycle"]


def _fire(problem: Problem, step: Step, now: datetime, out: _Effects) -> str:
    """The effects of a fired step: marks on the problem (written by the sweep), an event on its trail,
    notifications. The problem is locked by the sweep, so its loaded values are the row's."""
    rule, effects = step.rule, step.rule.effects or {}
    marks = {"escalation_level": max(problem.escalation_level, rule.level)}
    marks |= {"supervised": True} if effects.get("supervise") else {}
    marks |= {"severity": SEVERITY_UP.get(problem.severity, problem.severity)} if effects.get("raise_severity") else {}
    mark_written(problem, marks)  # the sweep's executemany writes them
    fields = {"rule_id": rule.id, "rule_name": rule.name, "trigger": rule.trigger, "stage": step.stage,
              "level": rule.level, "deadline": step.deadline.isoformat() if step.deadline else None,
              "due_at": step.at.isoformat(), "elapsed": _elapsed(problem, step, now)}
    fields |= _mark_hot(problem, step, now) if effects.get("hot_days") else {}
    out.events.add(problem, None, now, Action.ESCALATE, Entry(problem.state, fields, stage=problem.stage,
                                                              overdue=clocks.stage_overdue(problem, now)))
    users = _recipients(problem, rule.notify or [], out.audience)
    out.items += inbox.items(user_ids=users, type=NotificationType.ESCALATION, title=f"{problem.code} {rule.name}",
                             body=f"{problem.title}: {rule.name} (level {rule.level})", problem_id=problem.id, now=now)
    out.messages.append(outbox.message(topic="escalation.fired", now=now, payload={
        "problem_id": problem.id, "rule_id": rule.id, "level": rule.level,
        "data": outbox.problem_data(problem) | {"rule": rule.name, "rule_id": rule.id, "level": rule.level}}))
    tally.count("escalation", level=rule.level)
    return f"{rule.name} (level {rule.level}) on {problem.code}, due {step.at.isoformat()}"


def _recipients(problem: Problem, targets: list[str], audience: dict) -> list[int]:
    """notify.recipients, remembered for the sweep: it depends only on these columns and the targets."""
    key = (problem.unit_id, problem.grid_unit_id, problem.handler_id, tuple(targets))
    if key not in audience:
        audience[key] = inbox.recipients(problem, targets)
    return audience[key]


def _elapsed(problem: Problem, step: Step, now: datetime) -> int | None:
    """The stage clock's reading when the step fires: minutes of its own clock (working or natural) used."""
    if step.stage is None:
        return None
    counter = clocks.Clocks(problem)
    clock = counter.clock_of(step.stage)
    if step.stage == Stage.WHOLE:
        return counter.left(problem.whole_started_at, now, clock) // 60
    return (problem.stage_elapsed_s + counter.left(problem.stage_started_at, now, clock)) // 60


def _mark_hot(problem: Problem, step: Step, now: datetime) -> dict:
    """Recurrence: the point is hot (patrol checklists include it) and the problems are linked (the ones
    `step_of` found: no second look-up)."""
    rule = step.rule
    if problem.point_id is not None:
        db.session.execute(update(Point).where(Point.id == problem.point_id)
                           .values(hot_until=now + timedelta(days=rule.effects["hot_days"]))
                           .execution_options(synchronize_session=False))
    if rule.trigger != Trigger.RECURRENCE:  # any trigger may mark the point hot; only recurrence has related ones
        return {}
    return {"related_problem_ids": list(step.related)}

