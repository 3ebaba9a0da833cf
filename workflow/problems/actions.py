"""Reporting problems and moving them through their lifecycle: the only code that changes a state."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, inspect, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from models import Attachment, Category, Grid, Point, Problem, ProblemEvent, Unit, User
from models.base import db
from models.enums import Action, Role, Stage, State
from workflow import audit
from workflow.errors import (
    Conflict,
    EvidenceRequired,
    ExtensionConflict,
    Forbidden,
    Invalid,
    InvalidTransition,
    NotFound,
    PreconditionRequired,
    SeparationOfDuties,
    Stale,
)
from workflow.notifications import outbox
from workflow.problems import clocks, codes
from workflow.problems.lifecycle import RESTARTS_STAGE, STAGE_OF_STATE, TRANSITIONS, Rule, rule_for
from workflow.scope import problem_filter, unit_within

REPORTERS = frozenset({Role.OFFICER, Role.SUPERVISOR})
CLOCK_SKEW = timedelta(minutes=5)
RECURRENCE_WINDOW = timedelta(days=30)
MAX_EXTENSION = timedelta(days=366)
TEXT_FIELDS = ("note", "reason", "text")


def get_problem(*, actor: User, problem_id: int) -> Problem:
    """The problem if `actor` may see it; otherwise NotFound, as if it did not exist.

    Asked again in the same transaction (the API checks visibility before parsing a body, then the action
    loads the problem), it answers from the session: a second SELECT would return the same object unchanged.
    """
    session = db.session()
    transaction, seen = session.get_transaction(), session.info.get(_SEEN)
    if seen is not None and seen[0] is transaction and transaction is not None \
            and (problem := seen[1].get((actor.id, problem_id))) is not None:
        return problem
    stmt = select(Problem).where(Problem.id == problem_id, problem_filter(actor))
    problem = db.session.scalars(stmt).first()
    if problem is None:
        raise NotFound(f"problem {problem_id} not found")
    if seen is None or seen[0] is not session.get_transaction():
        seen = session.info[_SEEN] = (session.get_transaction(), {})
    seen[1][(actor.id, problem_id)] = problem
    return problem


_SEEN = "rectify.visible_problems"  # session.info: (transaction, {(actor id, problem id): problem})


# --- reporting -------------------------------------------------------------------------------

def report_problem(*, actor: User, now: datetime, category_code: str, title: str,
                   severity: str = "normal", description: str | None = None,
                   point_id: int | None = None, grid_id: int | None = None,
                   lat: float | None = None, lng: float | None = None, address: str | None = None,
                   resolved_on_site: bool = False, observed_at: datetime | None = None,
                   client_id: str | None = None, round_id: int | None = None) -> tuple[Problem, bool]:
    """Report a problem; returns it and whether it is new (a repeated `client_id` is not)."""
    if actor.role not in REPORTERS:
        raise Forbidden("only officers and supervisors report problems")
    if client_id is not None and (existing := _by_client_id(actor, client_id)):
        return existing, False
    category = _category(category_code)
    grid, point = _location(point_id, grid_id)
    _check_may_report_in(actor, grid)
    if observed_at is not None and observed_at > now + CLOCK_SKEW:
        raise Invalid("observed_at lies in the future", errors={"observed_at": ["must not be in the future"]})
    problem = Problem(
        category=category, category_id=category.id, title=title, description=description,
        severity=severity, point_id=point.id if point else None, grid_id=grid.id,
        grid_unit_id=grid.unit_id, lat=lat if lat is not None else (point.lat if point else None),
        lng=lng if lng is not None else (point.lng if point else None),
        address=address or (point.address if point else None), timezone=grid.unit.timezone,
        reporter_id=actor.id, client_id=client_id, resolved_on_site=resolved_on_site,
        observed_at=observed_at, reported_at=now, updated_at=now, version=1, last_seq=1, round_id=round_id,
        next_check_at=now,
        stage_cycle=0, rework_count=0, escalation_level=0, supervised=False, extension_count=0,
    )
    if resolved_on_site:
        problem.state, problem.verified_by_id = State.VERIFIED, actor.id
        clocks.start_stage(problem, None, now)
    else:
        problem.state = State.REPORTED
        clocks.start_stage(problem, Stage.DISPATCH, now)
    problem.recurrence_of = _repeats(problem)
    # Last: the day's counter row stays locked until the commit, so concurrent reports queue only for the rest.
    problem.code = codes.next_code(prefix=codes.code_prefix(grid.unit), tz=grid.unit.timezone, now=now)
    return _insert_report(problem, actor, now)


def _repeats(problem: Problem, *, not_id: int | None = None) -> int | None:
    """What `problem` repeats: the latest earlier problem of its category at its point, not cancelled (nor
    `not_id`), reported in the RECURRENCE_WINDOW before it; None when there is none."""
    if problem.point_id is None:
        return None
    earlier = Problem.reported_at <= problem.reported_at if problem.id is None else or_(
        Problem.reported_at < problem.reported_at,
        and_(Problem.reported_at == problem.reported_at, Problem.id < problem.id))
    stmt = (select(Problem.id).where(
        Problem.point_id == problem.point_id, Problem.category_id == problem.category_id,
        Problem.state != State.CANCELLED, Problem.reported_at >= problem.reported_at - RECURRENCE_WINDOW, earlier,
        *([Problem.id != not_id] if not_id is not None else []))
        .order_by(Problem.reported_at.desc(), Problem.id.desc()).limit(1))
    return db.session.scalar(stmt)


def _relink_repeats_of(problem_id: int, *, gone: bool) -> None:
    """The problems that named `problem_id` as what they repeat look again (it was cancelled, or moved)."""
    for later in db.session.scalars(select(Problem).where(Problem.recurrence_of == problem_id)).all():
        db.session.execute(update(Problem).where(Problem.id == later.id)
                           .values(recurrence_of=_repeats(later, not_id=problem_id if gone else None))
                           .execution_options(synchronize_session="fetch"))


def _insert_report(problem: Problem, actor: User, now: datetime) -> tuple[Problem, bool]:
    try:
        with db.session.begin_nested():
            db.session.add(problem)
            db.session.flush()
    except IntegrityError:
        # A concurrent retry with the same client_id won the race: answer with its problem.
        existing = _by_client_id(actor, problem.client_id) if problem.client_id else None
        if existing is None:
            raise
        return existing, False
    fields = {"resolved_on_site": True} if problem.resolved_on_site else {}
    event = record_event(problem, actor, now, Action.REPORT, None, 1, fields=fields, note=None,
                         stage=None, overdue=None)
    outbox.enqueue(topic="problem.created", now=now, payload={
        "problem_id": problem.id, "event_id": event.id, "data": outbox.problem_data(problem)})
    return problem, True


def _by_client_id(actor: User, client_id: str) -> Problem | None:
    stmt = select(Problem).where(Problem.reporter_id == actor.id, Problem.client_id == client_id)
    return db.session.scalars(stmt).first()


def _category(code: str) -> Category:
    category = db.session.scalars(select(Category).where(Category.code == code)).first()
    if category is None or not category.active:
        raise Invalid(f"unknown category {code!r}", errors={"category_code": ["unknown category"]})
    return category


def _location(point_id: int | None, grid_id: int | None) -> tuple[Grid, Point | None]:
    if point_id is not None:
        point = db.session.get(Point, point_id)
        if point is None:
            raise Invalid(f"unknown point {point_id}", errors={"point_id": ["unknown point"]})
        return point.grid, point
    grid = db.session.get(Grid, grid_id) if grid_id is not None else None
    if grid is None:
        raise Invalid(f"unknown grid {grid_id}", errors={"grid_id": ["unknown grid"]})
    return grid, None


def _check_may_report_in(actor: User, grid: Grid) -> None:
    if actor.role == Role.OFFICER and grid.id not in actor.grid_ids:
        raise Forbidden("officers report only in their own grids")
    if actor.role == Role.SUPERVISOR and not unit_within(grid.unit, actor.unit):
        raise Forbidden("supervisors report only in their unit's area")


# --- actions ---------------------------------------------------------------------------------

def _nothing(step: "Step") -> None:
    """The guard or effect of an action that needs none."""


@dataclass
class Step:
    problem: Problem
    actor: User
    now: datetime
    fields: dict
    recorded: dict = field(default_factory=dict)  # what effects add to the event's fields


def check_action(*, actor: User, action: str, fields: dict) -> Rule:
    """Refuse an action whose fields do not fit it (422) or that the caller's role never takes (403)."""
    rule = rule_for(action)
    missing = {name: ["required for this action"] for name in rule.required if fields.get(name) is None}
    extra = {name: ["not a field of this action"] for name in fields
             if name not in rule.required | rule.optional}
    if missing or extra:
        raise Invalid(f"fields do not fit action {action!r}", errors=missing | extra)
    if actor.role not in rule.roles:
        raise Forbidden(f"a {actor.role} may not {action}")
    return rule


def apply_action(*, actor: User, now: datetime, problem_id: int, action: str,
                 expected_version: int | None, **fields) -> Problem:
    """Apply one action of the transition table, in the current transaction (flush only)."""
    problem = get_problem(actor=actor, problem_id=problem_id)
    rule = check_action(actor=actor, action=action, fields=fields)
    if rule.changes_version:
        _check_version(problem, expected_version)
    if problem.state not in rule.frm:
        raise InvalidTransition(
            f"cannot {action} a problem that is {problem.state}",
            extra={"state": problem.state, "allowed_actions": allowed_actions(problem, actor, now)},
        )
    step = Step(problem, actor, now, fields)
    GUARDS.get(action, _nothing)(step)
    with db.session.no_autoflush:
        return _transition(step, Action(action), rule) if rule.changes_version else _comment(step)


def _check_version(problem: Problem, expected_version: int | None) -> None:
    if expected_version is None:
        raise PreconditionRequired("send If-Match with the problem's ETag")
    if expected_version != problem.version:
        raise Stale(f"the problem is at version {problem.version}, not {expected_version}",
                    extra={"version": problem.version})


def _transition(step: Step, action: Action, rule: Rule) -> Problem:
    problem, now = step.problem, step.now
    stage, overdue = problem.stage, clocks.stage_overdue(problem, now)
    from_state = problem.state
    ends_stage = rule.to is not None and (action in RESTARTS_STAGE or STAGE_OF_STATE[rule.to] is None)
    took = clocks.stage_took(problem, now) if ends_stage else None
    EFFECTS.get(action, _nothing)(step)
    if rule.to is not None:
        problem.state = rule.to
    if action in RESTARTS_STAGE:
        clocks.start_stage(problem, STAGE_OF_STATE[rule.to], now)
    problem.updated_at = problem.next_check_at = now  # the escalation sweep looks at it again
    seq = _compare_and_set(problem)
    note = next((step.fields[name] for name in TEXT_FIELDS if step.fields.get(name)), None)
    event = record_event(problem, step.actor, now, action, from_state, seq,
                         fields=_event_fields(step.fields | step.recorded), note=note, stage=stage, overdue=overdue,
                         took=took)
    outbox.enqueue(topic="problem.transitioned", now=now, payload={
        "problem_id": problem.id, "event_id": event.id,
        "data": outbox.problem_data(problem) | {"action": action.value, "from_state": from_state}})
    return problem


def _comment(step: Step) -> Problem:
    problem = step.problem
    stmt = (update(Problem).where(Problem.id == problem.id).values(last_seq=Problem.last_seq + 1)
            .returning(Problem.last_seq).execution_options(synchronize_session=False))
    seq = db.session.execute(stmt).scalar_one()
    set_committed_value(problem, "last_seq", seq)
    record_event(problem, step.actor, step.now, Action.COMMENT, problem.state, seq, fields={},
                 note=step.fields["text"], stage=problem.stage, overdue=clocks.stage_overdue(problem, step.now))
    return problem


def _compare_and_set(problem: Problem) -> int:
    """Write the changed columns only if nobody moved the row since we read it; return the event seq."""
    state = inspect(problem)
    changes = {attr.key: attr.value for attr in state.attrs
               if attr.key in state.mapper.column_attrs and attr.history.has_changes()}
    stmt = (
        update(Problem)
        .where(Problem.id == problem.id, Problem.version == problem.version)
        .values(**changes, version=Problem.version + 1, last_seq=Problem.last_seq + 1)
        .returning(Problem.version, Problem.last_seq)
        .execution_options(synchronize_session=False)
    )
    row = db.session.execute(stmt).first()
    if row is None:
        raise Stale("the problem changed while this action was applied")
    for key, value in changes.items():
        set_committed_value(problem, key, value)
    set_committed_value(problem, "version", row.version)
    set_committed_value(problem, "last_seq", row.last_seq)
    return row.last_seq


def record_event(problem: Problem, actor: User | None, now: datetime, action: Action, from_state: str | None,
                 seq: int, *, fields: dict, note: str | None, stage: str | None,
                 overdue: bool | None, took: tuple[int, int] | None = None) -> ProblemEvent:
    """Append one event to a problem's trail (`actor` None: the scheduler); `took` = (natural, working)
    seconds of the stage this event ends."""
    event = new_event(problem, actor, now, action, from_state, seq, fields=fields, note=note, stage=stage,
                      overdue=overdue, took=took)
    audit.seal_event(event)  # every event goes through here or the sweep: its hash chains it to the previous one
    db.session.add(event)
    db.session.flush([event])
    return event


def new_event(problem: Problem, actor: User | None, now: datetime, action: Action, from_state: str | None,
              seq: int, *, fields: dict, note: str | None, stage: str | None, overdue: bool | None,
              took: tuple[int, int] | None = None) -> ProblemEvent:
    """An event of `problem`'s trail, not yet sealed nor added (record_event does both)."""
    return ProblemEvent(
        problem_id=problem.id, seq=seq, action=action.value, from_state=from_state,
        to_state=problem.state, note=note, fields=fields, stage=stage, stage_overdue=overdue, at=now,
        actor_id=actor.id if actor else None, actor_name=actor.name if actor else None,
        actor_role=actor.role if actor else None,
        stage_natural_s=took[0] if took else None, stage_working_s=took[1] if took else None,
    )


def _event_fields(fields: dict) -> dict:
    return {name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in fields.items() if name not in TEXT_FIELDS}


# --- guards: checks on the row and the caller, shared with allowed_actions() -----------------

def _not_the_submitter(step: Step) -> None:
    if step.problem.submitted_by_id == step.actor.id:
        raise SeparationOfDuties("the person who submitted the rectification cannot verify it")
    _require_photo(step, "verification", step.problem.category.requires_verification_photo)


def _not_the_verifier(step: Step) -> None:
    if step.problem.verified_by_id == step.actor.id:
        raise SeparationOfDuties("the person who verified the problem cannot close it")


def _after_photo(step: Step) -> None:
    _require_photo(step, "after", step.problem.category.requires_after_photo)


def _require_photo(step: Step, kind: str, required: bool) -> None:
    if not required:
        return
    stmt = select(Attachment.id).where(Attachment.problem_id == step.problem.id, Attachment.kind == kind,
                                       Attachment.created_at >= step.problem.work_started_at)
    if db.session.execute(stmt.limit(1)).first() is None:
        raise EvidenceRequired(f"this category needs a {kind!r} photo uploaded for this round of work",
                               extra={"kind": kind})


def _no_pending_extension(step: Step) -> None:
    if step.problem.extension_until is not None:
        raise ExtensionConflict("an extension request is waiting for an answer")


def _pending_extension(step: Step) -> None:
    if step.problem.extension_until is None:
        raise ExtensionConflict("there is no extension request to answer")


def _may_grant(step: Step) -> None:
    _may_answer_extension(step)
    if step.problem.extension_until <= step.now:
        raise ExtensionConflict("the requested date has passed: deny the request and ask for a new one")


def _may_answer_extension(step: Step) -> None:
    _pending_extension(step)
    problem, actor = step.problem, step.actor
    if problem.extension_count == 0:
        return
    previous = db.session.get(Unit, problem.extension_granted_unit_id)
    if previous is None or not (unit_within(previous, actor.unit) and previous.id != actor.unit_id):
        raise Forbidden("a further extension needs a supervisor of a parent unit")


def _has_responsible_unit(step: Step) -> None:
    if step.problem.unit_id is None:
        raise Conflict("resolved on site, it has no responsible unit to rectify it: cancel is not possible "
                       "either; report the problem anew if it came back")


GUARDS = {
    Action.VERIFY: _not_the_submitter,
    Action.CLOSE: _not_the_verifier,
    Action.SUBMIT: _after_photo,
    Action.REQUEST_EXTENSION: _no_pending_extension,
    Action.SUSPEND: _no_pending_extension,
    Action.GRANT_EXTENSION: _may_grant,
    Action.DENY_EXTENSION: _may_answer_extension,
    Action.SEND_BACK: _has_responsible_unit,
}


def allowed_actions(problem: Problem, actor: User, now: datetime) -> list[str]:
    """The actions `actor` can take on a problem they can see, at `now`."""
    allowed = []
    for action, rule in TRANSITIONS.items():
        if problem.state not in rule.frm or actor.role not in rule.roles:
            continue
        try:
            GUARDS.get(action, _nothing)(Step(problem, actor, now, {}))
        except (Forbidden, Conflict):
            continue
        allowed.append(action.value)
    return allowed


# --- effects: what each action does besides moving the state --------------------------------

def _unit(unit_id: int) -> Unit:
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise Invalid(f"unknown unit {unit_id}", errors={"unit_id": ["unknown unit"]})
    return unit


def _handler_of(unit: Unit, handler_id: int | None) -> int | None:
    if handler_id is None:
        return None
    handler = db.session.get(User, handler_id)
    if handler is None or handler.role != Role.HANDLER or handler.unit_id != unit.id or not handler.active:
        raise Invalid(f"user {handler_id} is not a handler of unit {unit.id}",
                      errors={"handler_id": ["not a handler of that unit"]})
    return handler.id


def _assign(step: Step) -> None:
    unit = _unit(step.fields["unit_id"])
    step.problem.handler_id = _handler_of(unit, step.fields.get("handler_id"))
    step.problem.unit_id = unit.id
    clocks.start_whole(step.problem, step.now)


def _reassign(step: Step) -> None:
    _assign(step)
    _withdraw_extension(step)


def _return(step: Step) -> None:
    step.problem.unit_id = step.problem.handler_id = None


def _submit(step: Step) -> None:
    step.problem.submitted_by_id = step.actor.id
    _withdraw_extension(step)


def _verify(step: Step) -> None:
    step.problem.verified_by_id = step.actor.id
    clocks.start_stage(step.problem, None, step.now)


def _rework(step: Step) -> None:
    step.problem.rework_count += 1
    step.problem.verified_by_id = None


def _close(step: Step) -> None:
    step.problem.closed_at = step.now
    if step.problem.due_at is not None:
        step.recorded["whole_overdue"] = step.now >= step.problem.due_at
    clocks.stop_all(step.problem)


def _cancel(step: Step) -> None:
    duplicate_of = step.fields.get("duplicate_of")
    if duplicate_of is not None:
        try:
            original = get_problem(actor=step.actor, problem_id=duplicate_of)
        except NotFound:
            original = None
        if original is None or original.id == step.problem.id:
            raise Invalid("duplicate_of must name another problem you can see",
                          errors={"duplicate_of": ["unknown problem"]})
        step.problem.duplicate_of = duplicate_of
    clocks.stop_all(step.problem)
    _relink_repeats_of(step.problem.id, gone=True)


def _suspend(step: Step) -> None:
    clocks.pause(step.problem, step.now)


def _resume(step: Step) -> None:
    clocks.resume(step.problem, step.now)


def _request_extension(step: Step) -> None:
    problem, until = step.problem, step.fields["until"]
    if until <= step.now or (problem.stage_due_at is not None and until <= problem.stage_due_at):
        raise Invalid("an extension must end after the current deadline",
                      errors={"until": ["must be later than the current deadline"]})
    if until > step.now + MAX_EXTENSION:
        raise Invalid("an extension may ask for at most a year",
                      errors={"until": ["at most a year from now"]})
    problem.extension_until, problem.extension_reason = until, step.fields["reason"]
    problem.extension_requested_by_id, problem.extension_requested_at = step.actor.id, step.now
    if problem.category.pause_on_extension:
        clocks.pause(problem, step.now)


def _grant_extension(step: Step) -> None:
    problem = step.problem
    clocks.resume(problem, step.now)
    clocks.restart_stage_until(problem, problem.extension_until, step.now)
    problem.extension_count += 1
    problem.extension_granted_unit_id = step.actor.unit_id
    step.recorded["until"] = problem.stage_due_at
    _clear_extension(problem)


def _withdraw_extension(step: Step) -> None:
    """Drop a pending extension request (denied, or moot) and restart the clocks it paused."""
    if step.problem.extension_until is not None:
        step.recorded["extension_withdrawn"] = step.problem.extension_until
        clocks.resume(step.problem, step.now)
        _clear_extension(step.problem)


def _deny_extension(step: Step) -> None:
    step.recorded["until"] = step.problem.extension_until
    _withdraw_extension(step)
    step.recorded.pop("extension_withdrawn")


def _clear_extension(problem: Problem) -> None:
    problem.extension_until = problem.extension_reason = None
    problem.extension_requested_by_id = problem.extension_requested_at = None


EFFECTS = {
    Action.ASSIGN: _assign,
    Action.REASSIGN: _reassign,
    Action.RETURN: _return,
    Action.SUBMIT: _submit,
    Action.VERIFY: _verify,
    Action.REJECT: _rework,
    Action.SEND_BACK: _rework,
    Action.CLOSE: _close,
    Action.CANCEL: _cancel,
    Action.SUSPEND: _suspend,
    Action.RESUME: _resume,
    Action.REQUEST_EXTENSION: _request_extension,
    Action.GRANT_EXTENSION: _grant_extension,
    Action.DENY_EXTENSION: _deny_extension,
}


# --- editing a report ------------------------------------------------------------------------

EDITABLE = ("title", "description", "severity", "address", "lat", "lng")


def edit_problem(*, actor: User, now: datetime, problem_id: int, expected_version: int | None,
                 **changes) -> Problem:
    """Correct a report while it waits for dispatch: by its reporter or a supervisor."""
    problem = get_problem(actor=actor, problem_id=problem_id)
    if actor.id != problem.reporter_id and actor.role != Role.SUPERVISOR:
        raise Forbidden("only the reporter or a supervisor may edit a report")
    _check_version(problem, expected_version)
    if problem.state != State.REPORTED:
        raise InvalidTransition("only a report waiting for dispatch can be edited",
                                extra={"state": problem.state, "allowed_actions": allowed_actions(problem, actor, now)})
    with db.session.no_autoflush:
        _edit_fields(problem, actor, now, changes)
        problem.updated_at = now
        seq = _compare_and_set(problem)
        record_event(problem, actor, now, Action.EDIT, problem.state, seq, fields=_event_fields(changes),
                     note=None, stage=problem.stage, overdue=clocks.stage_overdue(problem, now))
    if "category_code" in changes or "point_id" in changes:
        repeats = _repeats(problem)
        if repeats != problem.recurrence_of:
            db.session.execute(update(Problem).where(Problem.id == problem.id).values(recurrence_of=repeats)
                               .execution_options(synchronize_session=False))
            set_committed_value(problem, "recurrence_of", repeats)
        _relink_repeats_of(problem.id, gone=False)
    return problem


def _edit_fields(problem: Problem, actor: User, now: datetime, changes: dict) -> None:
    for name in EDITABLE:
        if name in changes:
            setattr(problem, name, changes[name])
    if "point_id" in changes:
        grid, point = _location(changes["point_id"], None)
        _check_may_report_in(actor, grid)
        problem.point_id, problem.grid_id, problem.grid_unit_id = point.id, grid.id, grid.unit_id
        problem.timezone = grid.unit.timezone
        problem.lat = changes.get("lat", point.lat)
        problem.lng = changes.get("lng", point.lng)
        problem.address = changes.get("address", point.address)
    if "category_code" in changes:
        problem.category = _category(changes["category_code"])
        problem.category_id = problem.category.id
    if "category_code" in changes or "point_id" in changes:
        clocks.recompute_stage(problem)
