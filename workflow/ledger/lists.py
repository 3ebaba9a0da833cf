"""Problem lists: group problems for a campaign or a shortfall list and follow their progress live."""

from datetime import datetime

from sqlalchemy import delete, func, select

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


def create_list(*, actor: User, now: datetime, lead_unit_id: int, **fields) -> ProblemList:
    """Open a list led by a unit, with cooperating units."""
    _may_manage(actor, lead_unit_id)
    unknown = [u for u in fields.get("unit_ids", []) if db.session.get(Unit, u) is None]
    if unknown:
        raise Invalid("unknown cooperating units", errors={"unit_ids": [str(unknown)]})
    if fields.get("starts_on") and fields.get("ends_on") and fields["ends_on"] < fields["starts_on"]:
        raise Invalid("ends_on is before starts_on", errors={"ends_on": ["before starts_on"]})
    problem_list = ProblemList(lead_unit_id=lead_unit_id, state=ListState.OPEN, created_at=now,
                               unit_ids=list(dict.fromkeys(fields.pop("unit_ids", []))), **fields)
    db.session.add(problem_list)
    db.session.flush()
    return problem_list


def get_list(*, actor: User, list_id: int) -> ProblemList:
    found = db.session.scalars(select(ProblemList).where(ProblemList.id == list_id, visible_lists(actor))).first()
    if found is None:
        raise NotFound(f"problem list {list_id} not found")
    return found


def select_lists(*, actor: User):
    return select(ProblemList).where(visible_lists(actor))


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
    still_open = progress(problem_list, now)["open"]
    if still_open:
        raise Conflict(f"{still_open} problems on the list are still open")
    problem_list.state, problem_list.closed_at = ListState.CLOSED, now
    return problem_list


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
    """The ledger filter: problems on any of these lists."""
    return Problem.id.in_(select(problem_list_items.c.problem_id).where(problem_list_items.c.list_id.in_(list_ids)))


def progress(problem_list: ProblemList, now: datetime) -> dict:
    """Counts by state, open and overdue, and the on-time closure rate, computed in SQL."""
    members = select(problem_list_items.c.problem_id).where(problem_list_items.c.list_id == problem_list.id)
    rows = db.session.execute(select(Problem.state, func.count()).where(Problem.id.in_(members))
                              .group_by(Problem.state)).all()
    by_state = {state: count for state, count in rows}
    overdue = db.session.scalar(select(func.count()).where(Problem.id.in_(members), Problem.overdue_clause(now)))
    closed_on_time = db.session.scalar(select(func.count()).where(
        Problem.id.in_(members), Problem.state == State.CLOSED, Problem.due_at.is_not(None),
        Problem.closed_at <= Problem.due_at))
    closed_timed = db.session.scalar(select(func.count()).where(
        Problem.id.in_(members), Problem.state == State.CLOSED, Problem.due_at.is_not(None)))
    return {"total": sum(by_state.values()), "by_state": by_state,
            "open": sum(n for state, n in by_state.items() if state in OPEN_STATES), "overdue": overdue,
            "on_time_rate": round(closed_on_time / closed_timed, 4) if closed_timed else None}
