"""反弹 and duplicates: which earlier problem of the same category at the same point a report names.

`recurrence_of` (反弹: it came back after it was fixed) names the latest earlier one that was verified or
closed when the new one was reported, within RECURRENCE_WINDOW; `possible_duplicate_of` names the latest
earlier one that was still open then (a second report of the same thing; supervisors cancel it with
`duplicate_of`). "When it was reported" reads the earlier problem's trail, so a relink later gives the same
answer the report gave (decision 0034).
"""

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update

from models import Problem, ProblemEvent
from models.base import db
from models.enums import State

RECURRENCE_WINDOW = timedelta(days=30)
FIXED = (State.VERIFIED, State.CLOSED)
STILL_OPEN = (State.REPORTED, State.ASSIGNED, State.RECTIFYING, State.VERIFYING, State.SUSPENDED)


def state_at(at: datetime):
    """SQL: the state a problem was in at `at` (the to_state of its last event by then)."""
    return (select(ProblemEvent.to_state).where(ProblemEvent.problem_id == Problem.id, ProblemEvent.at <= at)
            .order_by(ProblemEvent.seq.desc()).limit(1).scalar_subquery())


def _latest_earlier(problem: Problem, *conditions, not_id: int | None):
    """SQL: the id of the latest earlier problem of `problem`'s category at its point meeting `conditions`."""
    earlier = Problem.reported_at <= problem.reported_at if problem.id is None else or_(
        Problem.reported_at < problem.reported_at,
        and_(Problem.reported_at == problem.reported_at, Problem.id < problem.id))
    return (select(Problem.id).where(
        Problem.point_id == problem.point_id, Problem.category_id == problem.category_id,
        Problem.state != State.CANCELLED, earlier, *conditions,
        *([Problem.id != not_id] if not_id is not None else []))
        .order_by(Problem.reported_at.desc(), Problem.id.desc()).limit(1))


def _repeats(problem: Problem, not_id: int | None = None):
    return _latest_earlier(problem, Problem.reported_at >= problem.reported_at - RECURRENCE_WINDOW,
                           state_at(problem.reported_at).in_(FIXED), not_id=not_id)


def _duplicates(problem: Problem, not_id: int | None = None):
    return _latest_earlier(problem, state_at(problem.reported_at).in_(STILL_OPEN), not_id=not_id)


def repeats(problem: Problem, *, not_id: int | None = None) -> int | None:
    """What `problem` is a recurrence of: the latest earlier problem of its category at its point, reported in
    the RECURRENCE_WINDOW before it and verified or closed by the time it was reported; None when none."""
    return db.session.scalar(_repeats(problem, not_id)) if problem.point_id is not None else None


def duplicates(problem: Problem, *, not_id: int | None = None) -> int | None:
    """What `problem` may duplicate: the latest earlier problem of its category at its point that was still
    open (not yet verified) when it was reported; None when none."""
    return db.session.scalar(_duplicates(problem, not_id)) if problem.point_id is not None else None


def link(problem: Problem) -> None:
    """Set both links of a problem (at its report), both looked up in one statement."""
    if problem.point_id is None:
        problem.recurrence_of = problem.possible_duplicate_of = None
        return
    both = select(_repeats(problem).scalar_subquery(), _duplicates(problem).scalar_subquery())
    problem.recurrence_of, problem.possible_duplicate_of = db.session.execute(both).one()


def relink_repeats_of(problem_id: int, *, gone: bool) -> None:
    """The problems that named `problem_id` (as what they repeat or may duplicate) look again: it was
    cancelled, or moved to another point or category."""
    not_id = problem_id if gone else None
    for column, finder in ((Problem.recurrence_of, repeats), (Problem.possible_duplicate_of, duplicates)):
        for later in db.session.scalars(select(Problem).where(column == problem_id)).all():
            db.session.execute(update(Problem).where(Problem.id == later.id)
                               .values({column.key: finder(later, not_id=not_id)})
                               .execution_options(synchronize_session="fetch"))
