"""Problem lists: group problems for a campaign or a shortfall list and follow their progress live.

A list may have a parent (decision 0090): a drive such as 五星支部创建 holds one child list per star, each with its
lead unit (一星一专班), cooperating units and deadline. Hierarchies are one level deep. A list's progress counts
its own items plus, summed, its children's: a problem on two stars counts once in each, and so twice in the
drive, which is what the district's tables add up.
"""

from collections import defaultdict
from datetime import datetime

from sqlalchemy import case, delete, func, select

from models import Problem, Unit, User
from models.base import db, upsert
from models.enums import ListState, Role, State
from models.lists import ProblemList, problem_list_items
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.problems.lifecycle import OPEN_STATES
from workflow.scope import problem_filter, subtree_ids, unit_within


def _may_manage(actor: User, lead_unit_id: int) -> None:
    unit = db.session.get(Unit, lead_unit_id)
    if unit is None:
        raise Invalid("unknown lead unit", errors={"lead_unit_id": ["unknown unit"]})
    if actor.role == Role.ADMIN:
        return
    if actor.role != Role.SUPERVISOR or not unit_within(unit, actor.unit):
        raise Forbidden("supervisors keep lists led by their unit's subtree; admins any")


def visible_lists(actor: User):
    if actor.role == Role.ADMIN:
        return ProblemList.id.is_not(None)
    if actor.role == Role.SUPERVISOR:
        return ProblemList.lead_unit_id.in_(subtree_ids(actor.unit))
    raise Forbidden("problem lists are for supervisors and admins")


def create_list(*, actor: User, now: datetime, lead_unit_id: int, parent_id: int | None = None,
                **fields) -> ProblemList:
    """Open a list led by a unit, with cooperating units; under a parent list (a drive's star) when named."""
    _may_manage(actor, lead_unit_id)
    if parent_id is not None:
        _check_parent(actor, parent_id)
    unknown = [u for u in fields.get("unit_ids", []) if db.session.get(Unit, u) is None]
    if unknown:
        raise Invalid("unknown cooperating units", errors={"unit_ids": [str(unknown)]})
    if fields.get("starts_on") and fields.get("ends_on") and fields["ends_on"] < fields["starts_on"]:
        raise Invalid("ends_on is before starts_on", errors={"ends_on": ["before starts_on"]})
    problem_list = ProblemList(lead_unit_id=lead_unit_id, parent_id=parent_id, state=ListState.OPEN, created_at=now,
                               unit_ids=list(dict.fromkeys(fields.pop("unit_ids", []))), **fields)
    db.session.add(problem_list)
    db.session.flush()
    return problem_list


def _check_parent(actor: User, parent_id: int) -> None:
    """A child goes under an open list the caller keeps, which is not itself a child (one level deep)."""
    # Locked (PostgreSQL) so a drive being closed cannot gain a star in the same instant.
    parent = db.session.scalars(select(ProblemList).where(ProblemList.id == parent_id, visible_lists(actor))
                                .with_for_update(read=True)).first()
    if parent is None:
        raise Invalid("unknown parent list", errors={"parent_id": ["unknown list"]})
    if parent.parent_id is not None:
        raise Invalid("a child list cannot hold lists", errors={"parent_id": ["is itself a child list"]})
    if parent.state != ListState.OPEN:
        raise Conflict("the parent list is closed")
    _may_manage(actor, parent.lead_unit_id)


def children_of(list_id: int) -> list[ProblemList]:
    """A list's child lists, oldest first."""
    return list(db.session.scalars(select(ProblemList).where(ProblemList.parent_id == list_id)
                                   .order_by(ProblemList.id)))


def get_list(*, actor: User, list_id: int) -> ProblemList:
    found = db.session.scalars(select(ProblemList).where(ProblemList.id == list_id, visible_lists(actor))).first()
    if found is None:
        raise NotFound(f"problem list {list_id} not found")
    return found


def select_lists(*, actor: User, kind: str | None = None, parent_id: int | None = None, top: bool = False):
    """The lists the caller sees; of one kind, under one parent, or only those without a parent (`top`)."""
    conds = [ProblemList.kind == kind if kind else None,
             ProblemList.parent_id == parent_id if parent_id is not None else None,
             ProblemList.parent_id.is_(None) if top else None]
    return select(ProblemList).where(visible_lists(actor), *[c for c in conds if c is not None])


def add_problems(*, actor: User, now: datetime, list_id: int, problem_ids: list[int]) -> ProblemList:
    """Put problems the caller can see on an open list (already there: no change)."""
    problem_list = _open_list(actor, list_id)
    visible = set(db.session.scalars(select(Problem.id).where(Problem.id.in_(problem_ids), problem_filter(actor))))
    missing = [pid for pid in problem_ids if pid not in visible]
    if missing:
        raise Invalid("unknown problems", errors={"problem_ids": [str(missing)]})
    put_on_list(list_id=problem_list.id, problem_ids=problem_ids, now=now)
    return problem_list


def put_on_list(*, list_id: int, problem_ids: list[int], now: datetime) -> None:
    """Put problems on a list (those already there stay as they were); callers check who may."""
    for problem_id in dict.fromkeys(problem_ids):
        db.session.execute(upsert(problem_list_items).values(
            list_id=list_id, problem_id=problem_id, added_at=now).on_conflict_do_nothing())


def remove_problem(*, actor: User, list_id: int, problem_id: int) -> None:
    problem_list = _open_list(actor, list_id)
    result = db.session.execute(delete(problem_list_items).where(problem_list_items.c.list_id == problem_list.id,
                                                                 problem_list_items.c.problem_id == problem_id))
    if not result.rowcount:
        raise NotFound(f"problem {problem_id} is not on list {list_id}")


def close_list(*, actor: User, now: datetime, list_id: int) -> ProblemList:
    """Close a list once every problem on it is closed or cancelled (409 otherwise)."""
    problem_list = _open_list(actor, list_id)
    lock_list(problem_list.id)
    if problem_list.state != ListState.OPEN:
        raise Conflict("the list is closed")
    still_open = progress(problem_list, now)["open"]
    if still_open:
        raise Conflict(f"{still_open} problems on the list are still open")
    if any(child.state == ListState.OPEN for child in children_of(problem_list.id)):
        raise Conflict("close the list's child lists first")
    problem_list.state, problem_list.closed_at = ListState.CLOSED, now
    return problem_list


def lock_list(list_id: int, *, shared: bool = False) -> None:
    """Lock the list's row until the commit (PostgreSQL; SQLite serializes writers): closing takes it exclusively,
    writers that need the list open (a new star, an activity) share it."""
    db.session.execute(select(ProblemList.id).where(ProblemList.id == list_id).with_for_update(read=shared))
    db.session.refresh(db.session.get(ProblemList, list_id), attribute_names=["state"])


def manage_list(*, actor: User, list_id: int) -> ProblemList:
    """An open list that `actor` may change (its lead unit's supervisors, admins)."""
    return _open_list(actor, list_id)


def _open_list(actor: User, list_id: int) -> ProblemList:
    problem_list = get_list(actor=actor, list_id=list_id)
    _may_manage(actor, problem_list.lead_unit_id)
    if problem_list.state != ListState.OPEN:
        raise Conflict("the list is closed")
    return problem_list


def in_list(list_ids: list[int]):
    """The ledger filter: problems on any of these lists or of their child lists."""
    lists = select(ProblemList.id).where(ProblemList.parent_id.in_(list_ids))
    return Problem.id.in_(select(problem_list_items.c.problem_id).where(
        problem_list_items.c.list_id.in_(list_ids) | problem_list_items.c.list_id.in_(lists)))


FIGURES = ("total", "closed", "open", "overdue", "closed_on_time", "closed_with_deadline")


def _figures(list_ids: list[int], now: datetime) -> dict[int, dict]:
    """Each list's own items: counts by state, open, closed, overdue and on-time closures, in one statement."""
    closed = Problem.state == State.CLOSED
    timed = closed & Problem.due_at.is_not(None)
    stmt = (select(problem_list_items.c.list_id, Problem.state, func.count(),
                   func.sum(case((Problem.overdue_clause(now), 1), else_=0)),
                   func.sum(case((timed & (Problem.closed_at < Problem.due_at), 1), else_=0)),  # on the due time: late
                   func.sum(case((timed, 1), else_=0)))
            .join(Problem, Problem.id == problem_list_items.c.problem_id)
            .where(problem_list_items.c.list_id.in_(list_ids))
            .group_by(problem_list_items.c.list_id, Problem.state))
    found = {list_id: _empty() for list_id in list_ids}
    for list_id, state, count, overdue, on_time, with_deadline in db.session.execute(stmt):
        figures = found[list_id]
        figures["by_state"][state] = count
        figures["total"] += count
        figures["open" if state in OPEN_STATES else "closed" if state == State.CLOSED else "cancelled"] += count
        figures["overdue"] += overdue or 0
        figures["closed_on_time"] += on_time or 0
        figures["closed_with_deadline"] += with_deadline or 0
    return found


def _empty() -> dict:
    return {"by_state": defaultdict(int)} | dict.fromkeys((*FIGURES, "cancelled"), 0)


def _add(into: dict, figures: dict) -> None:
    for name in (*FIGURES, "cancelled"):
        into[name] += figures[name]
    for state, count in figures["by_state"].items():
        into["by_state"][state] += count


def _shown(figures: dict) -> dict:
    shown = {name: figures[name] for name in FIGURES} | {"by_state": dict(figures["by_state"])}
    denominator = figures["closed_with_deadline"]
    shown["on_time_rate"] = round(figures["closed_on_time"] / denominator, 4) if denominator else None
    return shown


def progress(problem_list: ProblemList, now: datetime) -> dict:
    """The list's progress: its own items plus the sum of its children's (a drive: the sum of its stars)."""
    return rolled_up(problem_list, children_of(problem_list.id), now)[problem_list.id]


def rolled_up(problem_list: ProblemList, children: list[ProblemList], now: datetime) -> dict[int, dict]:
    """Progress of a list and of each of its children, by list id, from one statement."""
    figures = _figures([problem_list.id, *(child.id for child in children)], now)
    total = figures[problem_list.id]
    for child in children:
        _add(total, figures[child.id])
    return {list_id: _shown(found) for list_id, found in figures.items()}
