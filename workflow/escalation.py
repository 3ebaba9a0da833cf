"""Escalation: rules as data; a sweep that fires each due step once and remembers when to look next."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm.attributes import set_committed_value

from models import Category, EscalationFiring, EscalationRule, Point, Problem, ProblemEvent, Unit, User
from models.base import db, upsert
from models.enums import Action, Role, Severity, Stage, State
from workflow import audit, clocks, notify, outbox
from workflow.errors import Forbidden, Invalid, NotFound
from workflow.problems import new_event
from workflow.scope import problem_filter, subtree_ids, unit_within

TRIGGERS = ("before_due", "at_due", "after_due", "not_dispatched", "rework", "recurrence", "extension_pending")
STAGE_TRIGGERS = ("before_due", "at_due", "after_due", "not_dispatched")
SEVERITY_UP = {Severity.LOW.value: Severity.NORMAL.value, Severity.NORMAL.value: Severity.HIGH.value,
               Severity.HIGH.value: Severity.URGENT.value}
CLOSED = (State.CLOSED, State.CANCELLED)
QUIET = (*CLOSED, State.SUSPENDED)  # suspended (挂账) problems fire nothing until they resume
BATCH = 500


@dataclass(frozen=True)
class Step:
    """A rule's step on one problem: due at `at`, once per clock `cycle`."""

    rule: EscalationRule
    at: datetime
    cycle: int
    stage: str | None
    deadline: datetime | None


# --- when each trigger is due ----------------------------------------------------------------

def step_of(rule: EscalationRule, problem: Problem, scopes: dict[int, set[int]]) -> Step | None:
    """When `rule` is due on `problem` in its current clock cycle, or None if it does not apply."""
    if not _applies(rule, problem, scopes):
        return None
    if rule.trigger in STAGE_TRIGGERS:
        return _stage_step(rule, problem)
    if rule.trigger == "rework":
        return Step(rule, problem.updated_at, 0, None, None) if problem.rework_count >= rule.threshold else None
    if rule.trigger == "recurrence":
        return Step(rule, problem.reported_at, 0, None, None) if len(_recurring(rule, problem)) >= rule.threshold \
            else None
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
    if rule.trigger == "not_dispatched" and (problem.state != State.REPORTED or stage != Stage.DISPATCH):
        return None
    at = _instant(rule, problem, stage, start, due)
    return Step(rule, at, cycle, stage, due)


def _instant(rule: EscalationRule, problem: Problem, stage: str, start: datetime, due: datetime) -> datetime:
    if rule.trigger in ("at_due", "not_dispatched"):
        return due
    counter = clocks.Clocks(problem)
    clock = counter.clock_of(stage)
    if rule.trigger == "after_due":
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

    A batch of due problems (locked, so nobody else writes them meanwhile) costs a few statements plus two per
    fired step (its event: the hash chain reads the previous link): the firings are claimed in one INSERT,
    the problems written in one executemany, inbox items and outbox rows inserted together (bench/RESULTS.md).
    """
    rules = db.session.scalars(select(EscalationRule).where(EscalationRule.active.is_(True))
                               .order_by(EscalationRule.id)).all()
    scopes = _scopes(rules)
    due = db.session.scalars(
        select(Problem).where(Problem.next_check_at <= now).order_by(Problem.next_check_at, Problem.id)
        .limit(BATCH).with_for_update(skip_locked=True, of=Problem)).all()
    steps = {problem.id: [step for rule in rules if (step := step_of(rule, problem, scopes)) is not None]
             for problem in due}
    ripe = {problem.id: sorted((s for s in steps[problem.id] if s.at <= now),
                               key=lambda s: (s.at, s.rule.level, s.rule.id)) for problem in due}
    claimed = _record(ripe, now)
    fired, changes, events = [], [], []
    audience: dict[tuple, list[int]] = {}  # who hears, by unit, handler and targets: asked once per sweep
    chain = audit.heads([(p.id, p.last_seq) for p in due
                         if any((p.id, s.rule.id, s.rule.level, s.cycle) in claimed for s in ripe[p.id])])
    with db.session.no_autoflush:  # events, inbox items and outbox rows go in together at the end
        for problem in due:
            fired += [_fire(problem, step, now, audience, chain, events) for step in ripe[problem.id]
                      if (problem.id, step.rule.id, step.rule.level, step.cycle) in claimed]
            upcoming = [s.at for s in steps[problem.id] if s.at > now]
            changes.append({"id": problem.id, "next_check_at": min(upcoming, default=None),
                            "escalation_level": problem.escalation_level, "supervised": problem.supervised,
                            "severity": problem.severity, "last_seq": problem.last_seq})
    if changes:
        db.session.execute(update(Problem), changes)  # by primary key, one executemany
    db.session.add_all(events)
    db.session.flush()
    return fired


def _scopes(rules) -> dict[int, set[int]]:
    units = {rule.unit_id for rule in rules if rule.unit_id is not None}
    paths = {unit.id: unit for unit in db.session.scalars(select(Unit).where(Unit.id.in_(units)))}
    return {rule.id: set(db.session.scalars(subtree_ids(paths[rule.unit_id])))
            for rule in rules if rule.unit_id in paths}


def _record(ripe: dict[int, list[Step]], now: datetime) -> set[tuple]:
    """Claim every ripe step's firing; the (problem, rule, level, cycle) keys that were not claimed before."""
    rows = [{"problem_id": problem_id, "rule_id": step.rule.id, "level": step.rule.level, "cycle": step.cycle,
             "due_at": step.at, "fired_at": now} for problem_id, steps in ripe.items() for step in steps]
    if not rows:
        return set()
    # One statement compiled once, sent with every row (SQLAlchemy batches the VALUES): compiling a statement
    # with the rows inlined cost more than the insert.
    stmt = (upsert(EscalationFiring)
            .on_conflict_do_nothing(index_elements=["problem_id", "rule_id", "level", "cycle"])
            .returning(EscalationFiring.problem_id, EscalationFiring.rule_id, EscalationFiring.level,
                       EscalationFiring.cycle))
    return {tuple(row) for row in db.session.execute(stmt, rows)}


def _fire(problem: Problem, step: Step, now: datetime, audience: dict, chain: dict[int, str],
          events: list) -> str:
    """The effects of a fired step: marks on the problem (written by the sweep), an event on its trail,
    notifications. The problem is locked by the sweep, so its loaded values are the row's."""
    rule, effects = step.rule, step.rule.effects or {}
    set_committed_value(problem, "escalation_level", max(problem.escalation_level, rule.level))
    if effects.get("supervise"):
        set_committed_value(problem, "supervised", True)
    if effects.get("raise_severity"):
        set_committed_value(problem, "severity", SEVERITY_UP.get(problem.severity, problem.severity))
    fields = {"rule_id": rule.id, "rule_name": rule.name, "trigger": rule.trigger, "stage": step.stage,
              "level": rule.level, "deadline": step.deadline.isoformat() if step.deadline else None,
              "due_at": step.at.isoformat(), "elapsed": _elapsed(problem, step, now)}
    fields |= _mark_hot(problem, rule, now) if effects.get("hot_days") else {}
    events.append(_event(problem, problem.last_seq + 1, fields, now, chain))
    users = _recipients(problem, rule.notify or [], audience)
    notify.send(user_ids=users, type="escalation", title=f"{problem.code} {rule.name}",
                body=f"{problem.title}: {rule.name} (level {rule.level})", problem_id=problem.id, now=now)
    outbox.enqueue(topic="escalation.fired", now=now, payload={
        "problem_id": problem.id, "rule_id": rule.id, "level": rule.level,
        "data": outbox.problem_data(problem) | {"rule": rule.name, "rule_id": rule.id, "level": rule.level}})
    return f"{rule.name} (level {rule.level}) on {problem.code}, due {step.at.isoformat()}"


def _recipients(problem: Problem, targets: list[str], audience: dict) -> list[int]:
    """notify.recipients, remembered for the sweep: it depends only on these columns and the targets."""
    key = (problem.unit_id, problem.grid_unit_id, problem.handler_id, tuple(targets))
    if key not in audience:
        audience[key] = notify.recipients(problem, targets)
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


def _mark_hot(problem: Problem, rule: EscalationRule, now: datetime) -> dict:
    """Recurrence: the point is hot (patrol checklists include it) and the problems are linked."""
    if problem.point_id is not None:
        db.session.execute(update(Point).where(Point.id == problem.point_id)
                           .values(hot_until=now + timedelta(days=rule.effects["hot_days"]))
                           .execution_options(synchronize_session=False))
    return {"related_problem_ids": [pid for pid in _recurring(rule, problem) if pid != problem.id]}


def _event(problem: Problem, seq: int, fields: dict, now: datetime, chain: dict[int, str]) -> ProblemEvent:
    """The escalate event, sealed onto the problem's chain (`chain`: the batch's heads, moved on here)."""
    set_committed_value(problem, "last_seq", seq)
    event = new_event(problem, None, now, Action.ESCALATE, problem.state, seq, fields=fields, note=None,
                      stage=problem.stage, overdue=clocks.stage_overdue(problem, now))
    audit.seal_after(event, chain.get(problem.id, audit.GENESIS) if seq > 1 else audit.GENESIS)
    chain[problem.id] = event.hash
    return event


# --- rules (admin for all; supervisors for their subtree) ------------------------------------

RULE_FIELDS = ("name", "trigger", "stage", "fraction", "after_minutes", "threshold", "window_days", "level",
               "notify", "effects", "categories", "severities", "unit_id", "active")


def _may_manage(actor: User | None, unit_id: int | None, notify_targets=()) -> None:
    if actor is None or actor.role == Role.ADMIN:
        return
    unit = db.session.get(Unit, unit_id) if unit_id is not None else None
    if actor.role != Role.SUPERVISOR or unit is None or not unit_within(unit, actor.unit):
        raise Forbidden("supervisors manage rules of their unit's subtree (with unit_id); admins any rule")
    for target in notify_targets or ():
        user = db.session.get(User, int(target[5:])) if target.startswith("user:") and \
            target[5:].isdigit() and int(target[5:]) <= 2**31 - 1 else None
        if user is not None and (user.unit is None or not unit_within(user.unit, actor.unit)):
            raise Forbidden("supervisors notify only people of their unit's subtree")


def check_rule(rule: EscalationRule) -> None:
    """What a schema cannot check alone: each trigger's parameters."""
    needs = {"before_due": ("fraction",), "after_due": ("after_minutes",), "rework": ("threshold",),
             "recurrence": ("threshold", "window_days"), "extension_pending": ("after_minutes",)}
    missing = {name: [f"required for {rule.trigger}"] for name in needs.get(rule.trigger, ())
               if getattr(rule, name) is None}
    if missing:
        raise Invalid(f"trigger {rule.trigger} needs more", errors=missing)
    if rule.unit_id is not None and db.session.get(Unit, rule.unit_id) is None:
        raise Invalid("unknown unit", errors={"unit_id": ["unknown unit"]})
    bad = [t for t in rule.notify or [] if t.startswith("user:") and (
        not t[5:].isdigit() or int(t[5:]) > 2**31 - 1 or db.session.get(User, int(t[5:])) is None)]
    if bad:
        raise Invalid("unknown users to notify", errors={"notify": bad})


def create_rule(*, actor: User | None, now: datetime, **fields) -> EscalationRule:
    """Add a rule; problems are checked against it from the next sweep on."""
    _may_manage(actor, fields.get("unit_id"), fields.get("notify"))
    values = {"active": True, "level": 1, "notify": [], "effects": {}}
    rule = EscalationRule(created_at=now, updated_at=now,
                          **(values | {k: v for k, v in fields.items() if k in RULE_FIELDS}))
    check_rule(rule)
    db.session.add(rule)
    db.session.flush()
    _recheck_open_problems(now, rule)
    return rule


def edit_rule(*, actor: User, now: datetime, rule_id: int, **changes) -> EscalationRule:
    rule = get_rule(actor=actor, rule_id=rule_id)
    _may_manage(actor, changes.get("unit_id", rule.unit_id), changes.get("notify"))
    with db.session.no_autoflush:  # check the new values before anything reaches the database
        for name in RULE_FIELDS:
            if name in changes:
                setattr(rule, name, changes[name])
        rule.updated_at = now
        check_rule(rule)
    _recheck_open_problems(now, rule)
    return rule


def _recheck_open_problems(now: datetime, rule: EscalationRule) -> None:
    """A new or changed rule may be due sooner than any stored next_check_at: look again at the open problems
    it can apply to (its unit's subtree, categories and severities; at 1M problems, a global rule still
    touches every open one)."""
    where = [Problem.state.not_in(CLOSED), func.coalesce(Problem.next_check_at, now) >= now]
    if rule.unit_id is not None:
        units = subtree_ids(db.session.get(Unit, rule.unit_id))
        where.append(or_(Problem.grid_unit_id.in_(units), Problem.unit_id.in_(units)))
    if rule.categories:
        where.append(Problem.category_id.in_(select(Category.id).where(Category.code.in_(rule.categories))))
    if rule.severities:
        where.append(Problem.severity.in_(rule.severities))
    db.session.execute(update(Problem).where(*where).values(next_check_at=now)
                       .execution_options(synchronize_session=False))


def visible_rules(actor: User):
    if actor.role == Role.ADMIN:
        return text("1 = 1")
    if actor.role == Role.SUPERVISOR:
        return EscalationRule.unit_id.in_(subtree_ids(actor.unit)) | EscalationRule.unit_id.is_(None)
    raise Forbidden("escalation rules are for supervisors and admins")


def get_rule(*, actor: User, rule_id: int) -> EscalationRule:
    rule = db.session.scalars(select(EscalationRule).where(EscalationRule.id == rule_id,
                                                           visible_rules(actor))).first()
    if rule is None:
        raise NotFound(f"escalation rule {rule_id} not found")
    return rule


def select_rules(*, actor: User):
    return select(EscalationRule).where(visible_rules(actor))


def dry_run(*, actor: User, now: datetime, limit: int = 200, **draft) -> list[dict]:
    """Which problems a draft rule would fire on now (due and not yet fired), without firing it."""
    values = {"active": True, "level": 1, "notify": [], "effects": {}}
    rule = EscalationRule(id=0, **(values | {k: v for k, v in draft.items() if k in RULE_FIELDS}))
    check_rule(rule)
    scopes = {}
    if rule.unit_id is not None:
        unit = db.session.get(Unit, rule.unit_id)
        if actor.role == Role.SUPERVISOR and not unit_within(unit, actor.unit):
            raise Forbidden("supervisors try rules of their unit's subtree; admins any rule")
        scopes = {0: set(db.session.scalars(subtree_ids(unit)))}
    problems = db.session.scalars(select(Problem).where(problem_filter(actor), Problem.state.not_in(CLOSED))
                                  .order_by(Problem.id).limit(5000)).all()
    hits = []
    for problem in problems:
        step = step_of(rule, problem, scopes)
        if step is not None and step.at <= now:
            hits.append({"problem_id": problem.id, "code": problem.code, "due_at": step.at, "stage": step.stage})
            if len(hits) >= limit:
                break
    return hits
