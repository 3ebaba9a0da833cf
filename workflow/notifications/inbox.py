"""Who hears about a problem, and the in-app inbox they read it in."""

from datetime import datetime

from sqlalchemy import insert, or_, select, update

from models import Notification, Problem, Unit, User
from models.base import db
from models.enums import Role
from workflow.errors import NotFound
from workflow.paging import MAX_ID, Page, decode_cursor, fetch


def _members(unit_id: int | None, role: str) -> list[int]:
    if unit_id is None:
        return []
    stmt = select(User.id).where(User.unit_id == unit_id, User.role == role, User.active.is_(True))
    return list(db.session.scalars(stmt.order_by(User.id)))


def recipients(problem: Problem, targets: list[str]) -> list[int]:
    """User ids for notify targets: handler | unit_supervisors | parent_supervisors | user:<id>.

    `handler` is whoever must act: the named handler, else the unit's handlers; before dispatch, the
    supervisors of the grid's unit (they dispatch)."""
    found: list[int] = []
    for target in targets:
        if target in AUDIENCES:
            found += AUDIENCES[target](problem)
        elif (user := target_user(target)) is not None:
            found.append(user.id)
    return list(dict.fromkeys(found))


def _handlers(problem: Problem) -> list[int]:
    if problem.unit_id is None:  # waiting for dispatch: the dispatchers act
        return _members(problem.grid_unit_id, Role.SUPERVISOR)
    return [problem.handler_id] if problem.handler_id else _members(problem.unit_id, Role.HANDLER)


def _parent_supervisors(problem: Problem) -> list[int]:
    unit = db.session.get(Unit, problem.unit_id or problem.grid_unit_id)
    return _members(unit.parent_id if unit else None, Role.SUPERVISOR)


AUDIENCES = {
    "handler": _handlers,
    "unit_supervisors": lambda problem: _members(problem.unit_id or problem.grid_unit_id, Role.SUPERVISOR),
    "parent_supervisors": _parent_supervisors,
}


USER_TARGET = "user:"


def target_user(target: str) -> User | None:
    """The user a `user:<id>` notify target names; None for another target, a malformed id or no such user."""
    user_id = target.removeprefix(USER_TARGET)
    if user_id == target or not (user_id.isascii() and user_id.isdigit()) or not 0 < int(user_id) <= MAX_ID:
        return None
    return db.session.get(User, int(user_id))


def send(*, user_ids: list[int], type: str, title: str, body: str, now: datetime,
         problem_id: int | None = None, round_id: int | None = None) -> None:
    """Put an item in each user's inbox (flush only: it commits with the change that caused it)."""
    db.session.add_all([Notification(**row) for row in items(user_ids=user_ids, type=type, title=title, body=body,
                                                              now=now, problem_id=problem_id, round_id=round_id)])


def items(*, user_ids: list[int], type: str, title: str, body: str, now: datetime,
          problem_id: int | None = None, round_id: int | None = None) -> list[dict]:
    """The rows `send` puts in the users' inboxes, as plain columns (every row the same keys)."""
    return [{"user_id": user_id, "type": type, "title": title, "body": body, "problem_id": problem_id,
             "round_id": round_id, "created_at": now} for user_id in user_ids]


def send_many(rows: list[dict]) -> None:
    """Insert many `items` in one Core executemany (the escalation sweep: no ORM object per row)."""
    if rows:
        db.session.execute(insert(Notification.__table__), rows)


def inbox(*, actor: User, unread: bool | None, limit: int, cursor: str | None = None) -> Page:
    """The caller's notifications: unread first, then newest first."""
    stmt = select(Notification).where(Notification.user_id == actor.id)
    if unread is not None:
        stmt = stmt.where(Notification.read_at.is_(None) if unread else Notification.read_at.is_not(None))
    # Keyset on (read?, id desc): a cursor carries whether the last item was read and its id.
    is_read = Notification.read_at.is_not(None)
    if cursor:
        was_read, last_id = decode_cursor(cursor, "id", "id")  # 1: the last item was unread, 2: read
        if was_read == 2:
            stmt = stmt.where(is_read, Notification.id < last_id)
        else:
            stmt = stmt.where(or_(is_read, Notification.id < last_id))
    stmt = stmt.order_by(is_read, Notification.id.desc())
    return fetch(stmt, limit=limit, key=lambda item: (2 if item.read_at else 1, item.id))


def mark_read(*, actor: User, now: datetime, notification_id: int | None = None) -> int:
    """Mark one (or, without an id, every unread) notification of the caller read; returns how many."""
    stmt = update(Notification).where(Notification.user_id == actor.id, Notification.read_at.is_(None))
    if notification_id is not None:
        get_notification(actor=actor, notification_id=notification_id)
        stmt = stmt.where(Notification.id == notification_id)
    result = db.session.execute(stmt.values(read_at=now).execution_options(synchronize_session="fetch"))
    return result.rowcount or 0


def get_notification(*, actor: User, notification_id: int) -> Notification:
    item = db.session.get(Notification, notification_id)
    if item is None or item.user_id != actor.id:
        raise NotFound(f"notification {notification_id} not found")
    return item

