"""反弹: which earlier problem a report repeats (same category, same point, within the window)."""

from datetime import timedelta

from sqlalchemy import and_, or_, select, update

from models import Problem
from models.base import db
from models.enums import State

RECURRENCE_WINDOW = timedelta(days=30)


def repeats(problem: Problem, *, not_id: int | None = None) -> int | None:
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


def relink_repeats_of(problem_id: int, *, gone: bool) -> None:
    """The problems that named `problem_id` as what they repeat look again (it was cancelled, or moved)."""
    for later in db.session.scalars(select(Problem).where(Problem.recurrence_of == problem_id)).all():
        db.session.execute(update(Problem).where(Problem.id == later.id)
                           .values(recurrence_of=repeats(later, not_id=problem_id if gone else None))
                           .execution_options(synchronize_session="fetch"))
