"""Effects: what each action of the lifecycle table does to the row besides moving its state.

An effect runs after its guard, inside the action's transaction, and may refuse bad field values (422).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from models import Problem, Unit, User
from models.base import db
from models.enums import Role
from workflow.errors import Invalid, NotFound
from workflow.lookup import known
from workflow.problems import clocks
from workflow.problems.recurrence import relink_repeats_of
from workflow.problems.visibility import get_problem

if TYPE_CHECKING:
    from workflow.problems.lifecycle import Step

MAX_EXTENSION = timedelta(days=366)


def _handler_of(unit: Unit, handler_id: int | None) -> int | None:
    if handler_id is None:
        return None
    handler = db.session.get(User, handler_id)
    if handler is not None and not handler.active:
        raise Invalid(f"user {handler_id} is retired", errors={"handler_id": ["retired handler"]})
    if handler is None or handler.role != Role.HANDLER or handler.unit_id != unit.id:
        raise Invalid(f"user {handler_id} is not a handler of unit {unit.id}",
                      errors={"handler_id": ["not a handler of that unit"]})
    return handler.id


def assign(step: Step) -> None:
    """Name the responsible unit (and handler); the whole-case clock starts."""
    unit = known(Unit, step.fields["unit_id"], "unit_id", "unit")
    step.problem.handler_id = _handler_of(unit, step.fields.get("handler_id"))
    step.problem.unit_id = unit.id
    clocks.start_whole(step.problem, step.now)


def reassign(step: Step) -> None:
    """Assign anew; a pending extension request is moot."""
    assign(step)
    _withdraw_extension(step)


def return_to_dispatch(step: Step) -> None:
    """Not ours: the problem waits for dispatch again, with no unit."""
    step.problem.unit_id = step.problem.handler_id = None


def submit(step: Step) -> None:
    """Remember who rectified (they may not verify); a pending extension request is moot."""
    step.problem.submitted_by_id = step.actor.id
    _withdraw_extension(step)


def verify(step: Step) -> None:
    """Remember who verified (they may not close); no stage clock runs while it waits to be closed."""
    step.problem.verified_by_id = step.actor.id
    clocks.start_stage(step.problem, None, step.now)


def rework(step: Step) -> None:
    """返工: count it; the next verification is a new one."""
    step.problem.rework_count += 1
    step.problem.verified_by_id = None


def close(step: Step) -> None:
    """Stop every clock; the trail records whether the whole case ran over its limit."""
    step.problem.closed_at = step.now
    if step.problem.due_at is not None:
        step.recorded["whole_overdue"] = step.now >= step.problem.due_at
    clocks.stop_all(step.problem)


def cancel(step: Step) -> None:
    """Stop every clock; a duplicate names its original; what repeated this one looks again."""
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
    relink_repeats_of(step.problem.id, gone=True)


def suspend(step: Step) -> None:
    """挂账: the clocks pause."""
    clocks.pause(step.problem, step.now)


def resume(step: Step) -> None:
    """Every running deadline moves by the time spent suspended."""
    clocks.resume(step.problem, step.now)


def request_extension(step: Step) -> None:
    """Record the request; the clocks pause while it waits when the category says so."""
    problem, until = step.problem, step.fields["until"]
    if until <= step.now or (problem.stage_due_at is not None and until <= problem.stage_due_at):
        raise Invalid("an extension must end after the current deadline",
                      errors={"until": ["must be later than the current deadline"]})
    if until > step.now + MAX_EXTENSION:
        raise Invalid("an extension may ask for at most a year",
                      errors={"until": ["at most a year from now"]})
    problem.extension_until, problem.extension_reason = until, step.fields["note"]
    problem.extension_requested_by_id, problem.extension_requested_at = step.actor.id, step.now
    if problem.category.pause_on_extension:
        clocks.pause(problem, step.now)


def grant_extension(step: Step) -> None:
    """The stage runs until the requested date: a new clock cycle."""
    problem = step.problem
    clocks.resume(problem, step.now)
    clocks.restart_stage_until(problem, problem.extension_until, step.now)
    problem.extension_count += 1
    problem.extension_granted_unit_id = step.actor.unit_id
    step.recorded["until"] = problem.stage_due_at
    _clear_extension(problem)


def deny_extension(step: Step) -> None:
    """Drop the request; the clocks it paused run again."""
    step.recorded["until"] = step.problem.extension_until
    _withdraw_extension(step)
    step.recorded.pop("extension_withdrawn")


def _withdraw_extension(step: Step) -> None:
    """Drop a pending extension request (denied, or moot) and restart the clocks it paused."""
    if step.problem.extension_until is not None:
        step.recorded["extension_withdrawn"] = step.problem.extension_until
        clocks.resume(step.problem, step.now)
        _clear_extension(step.problem)


def _clear_extension(problem: Problem) -> None:
    problem.extension_until = problem.extension_reason = None
    problem.extension_requested_by_id = problem.extension_requested_at = None
