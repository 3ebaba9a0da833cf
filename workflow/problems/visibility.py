"""Which problems a caller may see: one that is out of scope does not exist for them (404)."""

from sqlalchemy import select

from models import Problem, User
from models.base import db
from workflow.errors import NotFound
from workflow.scope import problem_filter

_SEEN = "rectify.visible_problems"  # session.info: (transaction, {(actor id, problem id): problem})


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
