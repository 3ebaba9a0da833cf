"""Moving a problem through its lifecycle: the only code that changes a state.

`apply_action` checks the rule of the lifecycle table (fields, role, version, state, guard), runs its
effect, writes the row with a compare-and-set on `version`, appends the event and queues the outbox
message, all in the caller's transaction (flush only); on PostgreSQL those three writes are one statement
(workflow/problems/one_statement.py).
"""

from datetime import datetime

from models import Problem, User
from models.base import db
from models.enums import Action
from workflow import tally
from workflow.errors import Conflict, Forbidden, Invalid, InvalidTransition, PreconditionRequired, Stale
from workflow.notifications import work
from workflow.problems import clocks
from workflow.problems.events import Entry, Row, append_event, event_fields, event_note
from workflow.problems.lifecycle import STAGE_OF_STATE, TRANSITIONS, Rule, Step, candidates, current_names, rule_for
from workflow.problems.one_statement import Message, write_transition
from workflow.problems.visibility import get_problem


def check_action(*, actor: User, action: str, fields: dict) -> Rule:
    """Refuse an action whose fields do not fit it (422) or that the caller's role never takes (403)."""
    rule, fields = rule_for(action), current_names(action, fields)[0]
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
    fields = current_names(action, fields)[0]
    rule = check_action(actor=actor, action=action, fields=fields)
    if rule.changes_version:
        check_version(problem, expected_version)
    if problem.state not in rule.frm:
        raise InvalidTransition(
            f"cannot {action} a problem that is {problem.state}",
            extra={"state": problem.state, "allowed_actions": allowed_actions(problem, actor, now)},
        )
    step = Step(problem, actor, now, fields)
    rule.guard(step)
    with db.session.no_autoflush:
        return _transition(step, Action(action), rule) if rule.changes_version else _comment(step)


def check_version(problem: Problem, expected_version: int | None) -> None:
    """428 without an expected version, 412 when it is not the problem's."""
    if expected_version is None:
        raise PreconditionRequired("send If-Match with the problem's ETag")
    if expected_version != problem.version:
        raise Stale(f"the problem is at version {problem.version}, not {expected_version}",
                    extra={"version": problem.version})


def allowed_actions(problem: Problem, actor: User, now: datetime) -> list[str]:
    """The actions `actor` can take on a problem they can see, at `now` (guards run only where the problem's
    state and the actor's role leave a guarded rule: lifecycle.candidates)."""
    return [action.value for action, guarded in candidates(problem.state, actor.role)
            if not guarded or may_take(problem, actor, now, action)]


def may_take(problem: Problem, actor: User, now: datetime, action: Action) -> bool:
    """Whether `actor` can take `action` on a problem they can see, at `now` (its rule's states, roles, guard)."""
    rule = TRANSITIONS[action]
    if problem.state not in rule.frm or actor.role not in rule.roles:
        return False
    try:
        rule.guard(Step(problem, actor, now, {}))
    except (Forbidden, Conflict):
        return False
    return True


def _transition(step: Step, action: Action, rule: Rule) -> Problem:
    problem, now = step.problem, step.now
    stage, overdue = problem.stage, clocks.stage_overdue(problem, now)
    from_state = problem.state
    ends_stage = rule.to is not None and (rule.restarts_stage or STAGE_OF_STATE[rule.to] is None)
    took = clocks.stage_took(problem, now) if ends_stage else None
    before = {"extension_requested_by_id": problem.extension_requested_by_id}
    rule.effect(step)
    if rule.to is not None:
        problem.state = rule.to
    if rule.restarts_stage:
        clocks.start_stage(problem, STAGE_OF_STATE[rule.to], now)
    problem.updated_at = problem.next_check_at = now  # the escalation sweep looks at it again
    entry = Entry(from_state, event_fields(step.fields | step.recorded), event_note(step.fields), stage, overdue, took)
    message = Message("problem.transitioned", {"action": action.value, "from_state": from_state})
    news = work.transition_news(problem=problem, action=action, actor=step.actor, before=before, now=now)
    write_transition(problem, step.actor, now, action, entry, message, news)
    tally.count("transition", action=action.value)
    return problem


def _comment(step: Step) -> Problem:
    problem = step.problem
    entry = Entry(problem.state, note=step.fields["text"], stage=problem.stage,
                  overdue=clocks.stage_overdue(problem, step.now))
    append_event(problem, step.actor, step.now, Action.COMMENT, entry, row=Row.SEQ)
    tally.count("transition", action=Action.COMMENT.value)
    return problem
