"""Reading problems: the ledger with its filters and keyset pages, and each problem's trail."""

from datetime import datetime

from sqlalchemy import or_, select, tuple_

from models import Category, Problem, ProblemEvent, User
from models.base import db
from workflow.ledger.lists import in_list
from workflow.paging import Page, by_column, decode_cursor, fetch
from workflow.problems.visibility import get_problem
from workflow.scope import problem_filter

SIMPLE_FILTERS = {"state": Problem.state, "grid_id": Problem.grid_id, "unit_id": Problem.unit_id,
                  "severity": Problem.severity}
NOT_GIVEN = (None, "", [], ())


def ledger_filters(now: datetime, f: dict) -> list:
    """SQL conditions for the ledger's query parameters."""
    conds = [column.in_(f[name]) for name, column in SIMPLE_FILTERS.items() if f.get(name)]
    return conds + [build(f[name], now) for name, build in FILTERS.items() if f.get(name) not in NOT_GIVEN]


def _category(codes: list[str], now: datetime):
    # Resolved to ids first: with a literal list the planner estimates the filter right and walks the
    # (reported_at, id) index for a first page instead of sorting every match (bench/RESULTS.md).
    return Problem.category_id.in_(db.session.scalars(select(Category.id).where(Category.code.in_(codes))).all())


def _text(q: str, now: datetime):
    return or_(*(col.icontains(q, autoescape=True) for col in (Problem.title, Problem.description, Problem.address)))


def _overdue(overdue: bool, now: datetime):
    clause = Problem.overdue_clause(now)
    return clause if overdue else ~clause


FILTERS = {
    "category": _category,
    "reported_from": lambda at, now: Problem.reported_at >= at,
    "reported_to": lambda at, now: Problem.reported_at < at,
    "list_id": lambda ids, now: in_list(ids),
    "q": _text,
    "overdue": _overdue,
    "light": lambda lights, now: or_(*(Problem.light_clause(light, now) for light in lights)),
}


def list_problems(*, actor: User, now: datetime, filters: dict, limit: int, cursor: str | None = None) -> Page:
    """One page of the ledger, newest report first, as the caller may see it."""
    stmt = select(Problem).where(problem_filter(actor), *ledger_filters(now, filters))
    if cursor:
        at, last_id = decode_cursor(cursor, "time", "id")
        # A row-value comparison is one range on the (reported_at, id) index: a deep page costs what the
        # first one does. (The equivalent OR of two conditions made PostgreSQL filter every newer row.)
        stmt = stmt.where(tuple_(Problem.reported_at, Problem.id) < tuple_(at, last_id))
    stmt = stmt.order_by(Problem.reported_at.desc(), Problem.id.desc())
    return fetch(stmt, limit=limit, key=lambda problem: (problem.reported_at, problem.id))


def list_events(*, actor: User, problem_id: int, limit: int, cursor: str | None = None) -> Page:
    """One page of a problem's trail, oldest first."""
    get_problem(actor=actor, problem_id=problem_id)
    stmt = select(ProblemEvent).where(ProblemEvent.problem_id == problem_id)
    return by_column(stmt, ProblemEvent.seq, limit=limit, cursor=cursor)
