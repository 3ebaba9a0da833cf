"""Who sees what: a supervisor their unit's subtree, an officer their grids (and the placeless shortfalls of
their unit's subtree), a handler their unit."""

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from models import Problem, Unit, User, user_grids
from models.enums import Role


def subtree_ids(unit: Unit):
    """A subquery of the ids of `unit` and every unit below it."""
    return select(Unit.id).where(Unit.path.startswith(unit.path))


def problem_filter(actor: User) -> ColumnElement[bool]:
    """The SQL condition that selects exactly the problems `actor` may see."""
    if actor.role == Role.ADMIN:
        return true()
    if actor.role == Role.SUPERVISOR and actor.unit is not None:
        units = subtree_ids(actor.unit)
        return or_(Problem.grid_unit_id.in_(units), Problem.unit_id.in_(units))
    if actor.role == Role.OFFICER:
        grids = select(user_grids.c.grid_id).where(user_grids.c.user_id == actor.id)
        if actor.unit is None:
            return Problem.grid_id.in_(grids)
        # Shortfalls without a place (decision 0091): those of units in the officer's own unit's subtree.
        placeless = and_(Problem.grid_id.is_(None), Problem.grid_unit_id.in_(subtree_ids(actor.unit)))
        return or_(Problem.grid_id.in_(grids), placeless)
    if actor.role == Role.HANDLER and actor.unit_id is not None:
        return Problem.unit_id == actor.unit_id
    return false()


def unit_within(unit: Unit, root: Unit | None) -> bool:
    """True when `unit` lies in the subtree rooted at `root`."""
    return root is not None and unit.path.startswith(root.path)
