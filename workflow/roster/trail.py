"""The admin trail: one hash-chained trail for the district of every change to reference data and people.

One chain (not one per row): admin changes are few, and one order across all of them answers "what did the
roster look like at 09:00" by replaying a single sequence. Appending takes the counter row's lock last in
its transaction (after the changed rows' own locks), so two admins never deadlock on it.
"""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from models import AdminEvent, AdminTrail, User
from models.base import db
from workflow import audit
from workflow.paging import Page, by_column

TRAIL_ID = 1
SECRET = "changed"  # what the trail says of a secret or a personal number instead of its value


def _json(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def diff(before: dict, after: dict, *, secret: tuple[str, ...] = ()) -> dict:
    """{field: {"before", "after"}} of the fields whose value changed (secrets written "changed")."""
    changes = {}
    for name, value in after.items():
        old = before.get(name)
        if _json(old) == _json(value):
            continue
        changes[name] = ({"before": SECRET, "after": SECRET} if name in secret
                         else {"before": _json(old), "after": _json(value)})
    return changes


def snapshot(row, names) -> dict:
    """The current values of `names` on `row`."""
    return {name: getattr(row, name) for name in names}


def _next_seq(count: int = 1) -> int:
    """Bump the trail's counter by `count` (creating its row the first time) and return the new last seq."""
    bump = (update(AdminTrail).where(AdminTrail.id == TRAIL_ID).values(last_seq=AdminTrail.last_seq + count)
            .returning(AdminTrail.last_seq).execution_options(synchronize_session=False))
    seq = db.session.execute(bump).scalar()
    if seq is not None:
        return seq
    try:
        with db.session.begin_nested():
            db.session.add(AdminTrail(id=TRAIL_ID, last_seq=0))
            db.session.flush()
    except IntegrityError:
        pass  # another transaction made it first
    return db.session.execute(bump).scalar_one()


def record(*, actor: User | None, now: datetime, resource: str, resource_id: int, action: str,
           changes: dict, reason: str | None = None) -> AdminEvent:
    """Append one event to the admin trail (`actor` None: the system or the command line)."""
    event = AdminEvent(
        trail_id=TRAIL_ID, seq=_next_seq(), resource=resource, resource_id=resource_id, action=action,
        actor_id=actor.id if actor else None, actor_name=actor.name if actor else None,
        actor_role=str(actor.role) if actor else None, fields=changes, reason=reason, at=now)
    audit.seal_event(event, audit.ADMIN)
    db.session.add(event)
    db.session.flush([event])
    return event


@dataclass(frozen=True)
class Entry:
    """One change to put on the trail in a batch (see record_many)."""

    resource: str
    resource_id: int
    action: str
    changes: dict


def record_many(*, actor: User | None, now: datetime, entries: list[Entry], reason: str | None = None) -> None:
    """Append many events at once (an import): one bump of the counter, one read of the head, one INSERT."""
    if not entries:
        return
    last = _next_seq(len(entries))
    first = last - len(entries) + 1
    prev = audit.GENESIS if first == 1 else db.session.scalar(
        select(AdminEvent.hash).where(AdminEvent.trail_id == TRAIL_ID, AdminEvent.seq == first - 1)) or audit.GENESIS
    events = []
    for offset, entry in enumerate(entries):
        event = AdminEvent(
            trail_id=TRAIL_ID, seq=first + offset, resource=entry.resource, resource_id=entry.resource_id,
            action=entry.action, actor_id=actor.id if actor else None, actor_name=actor.name if actor else None,
            actor_role=str(actor.role) if actor else None, fields=entry.changes, reason=reason, at=now)
        audit.seal_after(event, prev, audit.ADMIN)
        prev = event.hash
        events.append(event)
    db.session.add_all(events)
    db.session.flush(events)


def record_creation(resource: str, row, names: tuple[str, ...], *, actor: User | None, now: datetime,
                    reason: str | None = None, secret: tuple[str, ...] = ()) -> AdminEvent:
    """Put a new row on the trail, each of `names` as its after."""
    return record(actor=actor, now=now, resource=resource, resource_id=row.id, action="create",
                  changes=diff({}, snapshot(row, names), secret=secret), reason=reason)


def list_events(*, limit: int, cursor: str | None = None, resource: str | None = None,
                resource_id: int | None = None, actor_id: int | None = None) -> Page:
    """A page of the trail, oldest first, filtered by resource, its id and the actor."""
    stmt = select(AdminEvent)
    for column, value in ((AdminEvent.resource, resource), (AdminEvent.resource_id, resource_id),
                          (AdminEvent.actor_id, actor_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    return by_column(stmt, AdminEvent.seq, limit=limit, cursor=cursor)
