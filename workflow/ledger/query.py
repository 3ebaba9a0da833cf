"""Reading problems: the ledger with its filters and keyset pages, and each problem's trail."""

from datetime import datetime

from sqlalchemy import or_, select, tuple_

from models import Category, Problem, ProblemEvent, User
from models.base import db
from workflow.ledger.lists import in_list
from workflow.paging import Page, by_column, decode_cursor, fetch
from workflow.problems.visibility import get_problem
from workflow.scope import problem_filter


def ledger_filters(now: datetime, f: dict) -> list:
    """SQL conditions for the ledger's query parameters."""
    conds = []
    simple = {"state": Problem.state, "grid_id": Problem.grid_id, "unit_id": Problem.unit_id,
              "severity": Problem.severity}
    conds += [column.in_(f[name]) for name, column in simple.items() if f.get(name)]
    if f.get("category"):
        # Resolved to ids first: with a literal list the planner estimates the filter right and walks the
        # (reported_at, id) index for a first page instead of sorting every match (bench/RESULTS.md).
        ids = db.session.scalars(select(Category.id).where(Category.code.in_(f["category"]))).all()
        conds.append(Problem.category_id.in_(ids))
    if f.get("reported_from"):
        conds.append(Problem.reported_at >= f["reported_from"])
    if f.get("reported_to"):
        conds.append(Problem.reported_at < f["reported_to"])
    if f.get("list_id"):
        conds.append(in_list(f["list_id"]))
    if f.get("q"):
        conds.append(or_(*(col.icontains(f["q"], autoescape=True)
                           for col in (Problem.title, Problem.description, Problem.address))))
    if f.get("overdue") is not None:
        overdue = Problem.overdue_clause(now)
        conds.append(overdue if f["overdue"] else ~overdue)
    if f.get("light"):
        conds.append(or_(*(Problem.light_clause(light, now) for light in f["light"])))
    return conds


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
