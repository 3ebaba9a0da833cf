"""Which problems a caller may see: one that is out of scope does not exist for them (404)."""

import functools

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import aliased

from models import Point, Problem, Unit, User
from models.base import db
from workflow import calendar
from workflow.errors import NotFound
from workflow.scope import problem_filter

_KEPT = "rectify.action_rows"  # session.info: the rows an action's read brought along (for the session)
_SEEN = "rectify.visible_problems"  # session.info: (transaction, {(actor id, problem id): problem})


def get_problem(*, actor: User, problem_id: int, naming: dict[str, int] | None = None) -> Problem:
    """The problem if `actor` may see it; otherwise NotFound, as if it did not exist.

    Asked again in the same transaction (the API checks visibility before parsing a body, then the action
    loads the problem), it answers from the session: a second SELECT would return the same object unchanged.

    `naming` (an action's fields, before they are checked) makes it the action's one read: the same statement
    brings the unit and handler the fields name, the problem's point (its inbox news names the place) and the
    calendar's version, so none of them costs a statement of its own later (`db.session.get` finds the rows).
    """
    session = db.session()
    transaction, seen = session.get_transaction(), session.info.get(_SEEN)
    if seen is not None and seen[0] is transaction and transaction is not None \
            and (problem := seen[1].get((actor.id, problem_id))) is not None:
        return problem
    stmt = select(Problem).where(Problem.id == problem_id, problem_filter(actor))
    problem = _read(stmt) if naming is None else _read_for_action(stmt, naming)
    if problem is None:
        raise NotFound(f"problem {problem_id} not found")
    if seen is None or seen[0] is not session.get_transaction():
        seen = session.info[_SEEN] = (session.get_transaction(), {})
    seen[1][(actor.id, problem_id)] = problem
    return problem


def _read(stmt) -> Problem | None:
    return db.session.scalars(stmt).first()


# An action's field -> the model of the row it names (the action's guard or effect reads it).
NAMED_ROWS = {"unit_id": Unit, "handler_id": User}


@functools.cache
def _action_joins() -> tuple:
    """(entity, ON clause) of each row an action's read brings along, built once: an alias made per request
    cost more Python than the statements the read saves."""
    named = [(aliased(model, name=f"named_{name}"), name) for name, model in NAMED_ROWS.items()]
    return ((Point, Point.id == Problem.point_id),
            *((alias, alias.id == bindparam(f"named_{name}", type_=Integer)) for alias, name in named))


def _read_for_action(stmt, naming: dict[str, int]) -> Problem | None:
    joins = _action_joins()
    stmt = stmt.add_columns(*(entity for entity, _ in joins), calendar.version_column())
    for entity, on in joins:
        stmt = stmt.outerjoin(entity, on)
    row = db.session.execute(stmt, {f"named_{name}": _id(naming.get(name)) for name in NAMED_ROWS}).first()
    if row is None:
        return None
    calendar.note_version(db.session, row[-1])
    db.session.info[_KEPT] = row  # the session maps rows weakly: this keeps them (the request's session)
    return row[0]


def _id(value) -> int:
    """A field's value as a row id to look for (0, which names no row, when it is not a plain integer)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31 else 0
