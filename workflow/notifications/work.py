"""New work in people's inboxes: who hears of a transition, a missed or incomplete round.

Written in the same transaction as the cause (flush only). Each item carries a dedupe key naming its cause,
unique per user, so one event makes one row per person however often it is replayed. Nobody is told of what
they did themselves.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import Notification, PatrolRound, Point, Problem, ProblemEvent, Unit, User, user_grids
from models.base import db, upsert
from models.enums import Action, NotificationType, Role
from workflow.errors import Conflict, Forbidden
from workflow.problems.guards import may_answer_extension
from workflow.problems.lifecycle import Step

# action -> (inbox type, title template)
NEWS = {
    Action.ASSIGN: (NotificationType.ASSIGNED, "新派遣 {code} {title}"),
    Action.REASSIGN: (NotificationType.ASSIGNED, "改派给你 {code} {title}"),
    Action.RETURN: (NotificationType.RETURNED, "被回退待重新派遣 {code} {title}"),
    Action.REJECT: (NotificationType.REWORK, "核查不通过需返工 {code} {title}"),
    Action.SEND_BACK: (NotificationType.REWORK, "退回整改 {code} {title}"),
    Action.REQUEST_EXTENSION: (NotificationType.EXTENSION_REQUESTED, "延期申请待审批 {code} {title}"),
    Action.GRANT_EXTENSION: (NotificationType.EXTENSION_DECIDED, "延期已批准 {code} {title}"),
    Action.DENY_EXTENSION: (NotificationType.EXTENSION_DECIDED, "延期被驳回 {code} {title}"),
    Action.SUBMIT: (NotificationType.VERIFICATION_WAITING, "待核查 {code} {title}"),
    Action.CLOSE: (NotificationType.CLOSED, "已结案 {code} {title}"),
}


def members(unit_id: int | None, role: str) -> list[int]:
    """Active users of a unit with a role, by id."""
    if unit_id is None:
        return []
    stmt = select(User.id).where(User.unit_id == unit_id, User.role == role, User.active.is_(True))
    return list(db.session.scalars(stmt.order_by(User.id)))


def handlers_of(problem: Problem) -> list[int]:
    """Who is expected to rectify: the named handler, else every handler of the responsible unit."""
    return [problem.handler_id] if problem.handler_id else members(problem.unit_id, Role.HANDLER)


def nearest_supervisors(unit_id: int | None, accept=lambda user: True) -> list[int]:
    """The supervisors of the nearest unit at or above `unit_id` that has any `accept` takes."""
    unit = db.session.get(Unit, unit_id) if unit_id else None
    for ancestor in reversed(unit.ancestor_ids() if unit else []):
        found = [user for user in db.session.scalars(select(User).where(
            User.unit_id == ancestor, User.role == Role.SUPERVISOR, User.active.is_(True)).order_by(User.id))
            if accept(user)]
        if found:
            return [user.id for user in found]
    return []


def extension_approvers(problem: Problem, now: datetime) -> list[int]:
    """The supervisors whose answer a pending extension waits for: the nearest ones above the responsible unit
    who may answer it (a second extension: above the unit that granted the first)."""
    def may_answer(user: User) -> bool:
        try:
            may_answer_extension(Step(problem, user, now, {}))
        except (Forbidden, Conflict):
            return False
        return True
    return nearest_supervisors(problem.unit_id or problem.grid_unit_id, may_answer)


def _audience(problem: Problem, action: Action, before: dict, now: datetime) -> list[int]:
    """Who a transition gives work (or news) to."""
    return _AUDIENCES[action](problem, before, now)


def _returned_to(problem: Problem) -> list[int]:
    assigner = _last_assigner(problem.id)
    return [assigner] if assigner else members(problem.grid_unit_id, Role.SUPERVISOR)


def _sent_back_to(problem: Problem) -> list[int]:
    named = problem.handler_id or problem.submitted_by_id
    return [named] if named else handlers_of(problem)


def _requester(before: dict) -> list[int]:
    return [before["extension_requested_by_id"]] if before.get("extension_requested_by_id") else []


_AUDIENCES = {
    Action.ASSIGN: lambda problem, before, now: handlers_of(problem),
    Action.REASSIGN: lambda problem, before, now: handlers_of(problem),
    Action.RETURN: lambda problem, before, now: _returned_to(problem),
    Action.REJECT: lambda problem, before, now: _sent_back_to(problem),
    Action.SEND_BACK: lambda problem, before, now: _sent_back_to(problem),
    Action.REQUEST_EXTENSION: lambda problem, before, now: extension_approvers(problem, now),
    Action.GRANT_EXTENSION: lambda problem, before, now: _requester(before),
    Action.DENY_EXTENSION: lambda problem, before, now: _requester(before),
    Action.SUBMIT: lambda problem, before, now: _grid_officers(problem.grid_id),
    Action.CLOSE: lambda problem, before, now: [problem.reporter_id],
}


def _last_assigner(problem_id: int) -> int | None:
    """Who dispatched the problem last (a return goes back to them)."""
    stmt = (select(ProblemEvent.actor_id).where(ProblemEvent.problem_id == problem_id,
                                               ProblemEvent.action.in_((Action.ASSIGN, Action.REASSIGN)))
            .order_by(ProblemEvent.seq.desc()).limit(1))
    return db.session.scalar(stmt)


def _grid_officers(grid_id: int) -> list[int]:
    stmt = (select(User.id).join(user_grids, user_grids.c.user_id == User.id)
            .where(user_grids.c.grid_id == grid_id, User.role == Role.OFFICER, User.active.is_(True)))
    return list(db.session.scalars(stmt.order_by(User.id)))


@dataclass(frozen=True)
class News:
    """What a transition tells whom: one inbox item per user, its dedupe key naming the event (`key`)."""

    user_ids: list[int]
    type: str
    title: str
    body: str

    @staticmethod
    def key(problem_id: int, seq: int) -> str:
        return f"problem:{problem_id}:seq:{seq}"


def transition_news(*, problem: Problem, action: Action, actor: User, before: dict, now: datetime) -> News | None:
    """The news of a transition decided on `problem` (not yet written): who it gives work (or news) to, and
    what their inbox says; None when nobody is told. The write puts the items (`put_news`, or the one statement
    of workflow/problems/one_statement.py, which names the event's seq in SQL the same way)."""
    if action not in NEWS:
        return None
    kind, title = NEWS[action]
    users = [user for user in dict.fromkeys(_audience(problem, action, before, now)) if user != actor.id]
    if not users:
        return None
    return News(users, kind, title.format(code=problem.code, title=problem.title)[:200], describe(problem))


def put_news(news: News, *, problem: Problem, seq: int, now: datetime) -> int:
    """Put a transition's news, its event being `seq`; how many new items."""
    return put(user_ids=news.user_ids, type=news.type, title=news.title, body=news.body, now=now,
               key=News.key(problem.id, seq), problem_id=problem.id)


def describe(problem: Problem) -> str:
    """Place and deadline of a problem, in a line."""
    point = db.session.get(Point, problem.point_id) if problem.point_id else None
    place = problem.address or (point.address or point.name if point else "")
    due = problem.stage_due_at or problem.due_at
    deadline = f"，期限 {due.astimezone(ZoneInfo(problem.timezone)).strftime('%m-%d %H:%M')}" if due else ""
    return f"{place}{deadline}"


def on_round(*, round_: PatrolRound, kind: str, now: datetime) -> list[int]:
    """Tell the plan's supervisors that a round was missed (round_missed) or finished with points left
    unvisited (round_incomplete)."""
    users = nearest_supervisors(round_.plan.unit_id)
    what = "漏巡" if kind == NotificationType.ROUND_MISSED else "巡查未走完"
    local = round_.planned_start.astimezone(ZoneInfo(round_.plan.timezone))
    put(user_ids=users, type=kind, title=f"{what} {round_.plan.name} {round_.label}"[:200],
        body=f"{local.strftime('%m-%d %H:%M')} 起的巡查{what}", now=now, key=f"round:{round_.id}:{kind}",
        round_id=round_.id)
    return users


def put(*, user_ids: list[int], type: str, title: str, body: str, now: datetime, key: str,
        problem_id: int | None = None, round_id: int | None = None) -> int:
    """Put one item per user for the cause `key`; an item that exists already is kept. Returns how many new."""
    if not user_ids:
        return 0
    rows = [{"user_id": user_id, "type": type, "title": title, "body": body, "problem_id": problem_id,
             "round_id": round_id, "created_at": now, "dedupe_key": key} for user_id in user_ids]
    stmt = (upsert(Notification).values(rows)  # one statement however many people are told
            .on_conflict_do_nothing(index_elements=["user_id", "dedupe_key"]).returning(Notification.id))
    return len(db.session.execute(stmt).all())
