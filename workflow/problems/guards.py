"""Guards: checks on the row and the caller that the lifecycle table names; `allowed_actions` runs them too.

A guard raises Forbidden (403) or a Conflict (409) and changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from models import Attachment, Unit
from models.base import db
from workflow.errors import Conflict, EvidenceRequired, ExtensionConflict, Forbidden, SeparationOfDuties
from workflow.scope import unit_within

if TYPE_CHECKING:
    from workflow.problems.lifecycle import Step


def not_the_submitter(step: Step) -> None:
    """Nobody verifies their own rectification; the category may want a verification photo."""
    if step.problem.submitted_by_id == step.actor.id:
        raise SeparationOfDuties("the person who submitted the rectification cannot verify it")
    _require_photo(step, "verification", step.problem.category.requires_verification_photo)


def not_the_verifier(step: Step) -> None:
    """Nobody closes what they verified."""
    if step.problem.verified_by_id == step.actor.id:
        raise SeparationOfDuties("the person who verified the problem cannot close it")


def may_close(step: Step) -> None:
    """Nobody closes what they verified, and nothing is closed without the photos its category requires
    (a report resolved on site skipped submit and verify, where they are asked for otherwise)."""
    not_the_verifier(step)
    category, problem = step.problem.category, step.problem
    wanted = [kind for kind, required in (("after", category.requires_after_photo),
                                          ("verification", category.requires_verification_photo)) if required]
    if not wanted:
        return
    stmt = select(Attachment.kind).where(Attachment.problem_id == problem.id, Attachment.kind.in_(wanted))
    if problem.work_started_at is not None:
        stmt = stmt.where(Attachment.created_at >= problem.work_started_at)
    missing = [kind for kind in wanted if kind not in set(db.session.scalars(stmt.distinct()))]
    if missing:
        raise EvidenceRequired(f"this category needs {' and '.join(repr(k) for k in missing)} photos before it "
                               "is closed", extra={"kind": missing[0], "missing": missing})


def after_photo(step: Step) -> None:
    """A rectification of a category that wants an 'after' photo comes with one."""
    _require_photo(step, "after", step.problem.category.requires_after_photo)


def _require_photo(step: Step, kind: str, required: bool) -> None:
    if not required:
        return
    stmt = select(Attachment.id).where(Attachment.problem_id == step.problem.id, Attachment.kind == kind,
                                       Attachment.created_at >= step.problem.work_started_at)
    if db.session.execute(stmt.limit(1)).first() is None:
        raise EvidenceRequired(f"this category needs a {kind!r} photo uploaded for this round of work",
                               extra={"kind": kind})


def no_pending_extension(step: Step) -> None:
    """Refuse while an extension request waits for an answer."""
    if step.problem.extension_until is not None:
        raise ExtensionConflict("an extension request is waiting for an answer")


def may_suspend(step: Step) -> None:
    """No extension request waits; a problem already overdue is suspended only by a supervisor of a unit above
    the office whose area it is (its grid's unit), so an office cannot clear its own red lights."""
    no_pending_extension(step)
    problem, actor = step.problem, step.actor
    if not problem.is_overdue(step.now):
        return
    office = db.session.get(Unit, problem.grid_unit_id)
    if actor.unit is None or not (unit_within(office, actor.unit) and office.id != actor.unit_id):
        raise Forbidden("this problem is overdue: suspending it needs a supervisor of a parent unit")


def may_answer_extension(step: Step) -> None:
    """A request waits, and a second or later one is answered by a supervisor of a parent unit."""
    if step.problem.extension_until is None:
        raise ExtensionConflict("there is no extension request to answer")
    problem, actor = step.problem, step.actor
    if problem.extension_count == 0:
        return
    previous = db.session.get(Unit, problem.extension_granted_unit_id)
    if previous is None or not (unit_within(previous, actor.unit) and previous.id != actor.unit_id):
        raise Forbidden("a further extension needs a supervisor of a parent unit")


def may_grant_extension(step: Step) -> None:
    """As `may_answer_extension`, and the requested date still lies ahead."""
    may_answer_extension(step)
    if step.problem.extension_until <= step.now:
        raise ExtensionConflict("the requested date has passed: deny the request and ask for a new one")


def has_responsible_unit(step: Step) -> None:
    """Only a problem with a responsible unit can go back to rectification."""
    if step.problem.unit_id is None:
        raise Conflict("resolved on site, it has no responsible unit to rectify it: cancel is not possible "
                       "either; report the problem anew if it came back")
