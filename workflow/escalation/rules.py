"""Escalation rules as data: who may keep them, what a rule needs to run, and what it would fire on now."""

from datetime import datetime

from sqlalchemy import func, or_, select, text, update

from models import Category, EscalationRule, Problem, Unit, User
from models.base import db
from models.enums import FINISHED_STATES, Role, Stage, Trigger
from workflow.errors import Forbidden, Invalid, NotFound
from workflow.escalation.firing import step_of
from workflow.notifications.inbox import USER_TARGET, target_user
from workflow.roster import trail
from workflow.roster.edits import Kind, check_version, commit_edit
from workflow.scope import problem_filter, subtree_ids, unit_within

# --- rules (admin for all; supervisors for their subtree) ------------------------------------

RULE_FIELDS = ("name", "trigger", "stage", "fraction", "after_minutes", "threshold", "window_days", "level",
               "notify", "effects", "categories", "severities", "unit_id", "active")
RULE = Kind("escalation_rule", EscalationRule, RULE_FIELDS)


# The parameters each trigger needs besides its stage.
TRIGGER_NEEDS = {Trigger.BEFORE_DUE: ("fraction",), Trigger.AFTER_DUE: ("after_minutes",),
                 Trigger.REWORK: ("threshold",), Trigger.RECURRENCE: ("threshold", "window_days"),
                 Trigger.EXTENSION_PENDING: ("after_minutes",)}


def _may_manage(actor: User | None, unit_id: int | None, notify_targets=()) -> None:
    if actor is None or actor.role == Role.ADMIN:
        return
    unit = db.session.get(Unit, unit_id) if unit_id is not None else None
    if actor.role != Role.SUPERVISOR or unit is None or not unit_within(unit, actor.unit):
        raise Forbidden("supervisors manage rules of their unit's subtree (with unit_id); admins any rule")
    if any(not _within(target_user(target), actor.unit) for target in notify_targets or ()):
        raise Forbidden("supervisors notify only people of their unit's subtree")


def _within(user: User | None, unit: Unit) -> bool:
    """A notify target the supervisor of `unit` may name (not a person: always)."""
    return user is None or (user.unit is not None and unit_within(user.unit, unit))


def check_rule(rule: EscalationRule) -> None:
    """What a schema cannot check alone: each trigger's parameters."""
    missing = {name: [f"required for {rule.trigger}"] for name in TRIGGER_NEEDS.get(rule.trigger, ())
               if getattr(rule, name) is None}
    if missing:
        raise Invalid(f"trigger {rule.trigger} needs more", errors=missing)
    if rule.unit_id is not None and db.session.get(Unit, rule.unit_id) is None:
        raise Invalid("unknown unit", errors={"unit_id": ["unknown unit"]})
    _check_runnable(rule)
    _check_notify(rule.notify or [])


def _check_notify(targets: list[str]) -> None:
    bad = [t for t in targets if t.startswith(USER_TARGET) and target_user(t) is None]
    if bad:
        raise Invalid("unknown users to notify", errors={"notify": bad})


def _check_runnable(rule: EscalationRule) -> None:
    """What would make the sweep skip or trip over the rule: categories nobody has, a stage it never sees."""
    if rule.categories:
        known = set(db.session.scalars(select(Category.code).where(Category.code.in_(rule.categories))))
        if unknown := [code for code in rule.categories if code not in known]:
            raise Invalid("unknown categories", errors={"categories": [f"unknown category {c}" for c in unknown]})
    if rule.trigger == Trigger.NOT_DISPATCHED and rule.stage not in (None, Stage.DISPATCH):
        raise Invalid("not_dispatched watches the dispatch stage",
                      errors={"stage": ["not_dispatched fires on the dispatch stage only"]})


def create_rule(*, actor: User | None, now: datetime, **fields) -> EscalationRule:
    """Add a rule; problems are checked against it from the next sweep on."""
    _may_manage(actor, fields.get("unit_id"), fields.get("notify"))
    values = {"active": True, "level": 1, "notify": [], "effects": {}}
    rule = EscalationRule(created_at=now, updated_at=now,
                          **(values | {k: v for k, v in fields.items() if k in RULE_FIELDS}))
    check_rule(rule)
    db.session.add(rule)
    db.session.flush()
    if actor is not None:  # a person's creation goes on the admin trail (seeds and fixtures do not)
        trail.record_creation(RULE.resource, rule, RULE.fields, actor=actor, now=now)
    _recheck_open_problems(now, rule)
    return rule


def edit_rule(*, actor: User, now: datetime, rule_id: int, expected_version: int | None,
              reason: str | None = None, **changes) -> EscalationRule:
    """Change or retire (`active: false`) a rule under If-Match; the change goes on the admin trail."""
    rule = get_rule(actor=actor, rule_id=rule_id)
    _may_manage(actor, changes.get("unit_id", rule.unit_id), changes.get("notify"))
    check_version(rule, expected_version, "escalation rule")
    before = {name: getattr(rule, name) for name in RULE.fields}
    with db.session.no_autoflush:  # check the new values before anything reaches the database
        for name in RULE_FIELDS:
            if name in changes:
                setattr(rule, name, changes[name])
        check_rule(rule)
        rule.failing_since = rule.last_error = None  # checked again: the sweep tries it from the next run
        if commit_edit(RULE, rule, actor=actor, now=now, before=before, reason=reason):
            rule.updated_at = now
    _recheck_open_problems(now, rule)
    return rule


def _recheck_open_problems(now: datetime, rule: EscalationRule) -> None:
    """A new or changed rule may be due sooner than any stored next_check_at: look again at the open problems
    it can apply to (its unit's subtree, categories and severities; at 1M problems, a global rule still
    touches every open one)."""
    where = [Problem.state.not_in(FINISHED_STATES), func.coalesce(Problem.next_check_at, now) >= now]
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
    problems = db.session.scalars(select(Problem).where(problem_filter(actor), Problem.state.not_in(FINISHED_STATES))
                                  .order_by(Problem.id).limit(5000)).all()
    hits = []
    for problem in problems:
        step = step_of(rule, problem, scopes)
        if step is not None and step.at <= now:
            hits.append({"problem_id": problem.id, "code": problem.code, "due_at": step.at, "stage": step.stage})
            if len(hits) >= limit:
                break
    return hits
