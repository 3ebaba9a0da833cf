"""What inspections leave to do later: a re-inspection (逾期复查) once an order's deadline has passed, and a
re-check (到期复检) ahead of a dated item's expiry (`recheck_days_before` it, 30 days by default, moved back
to a working day). The scheduler makes them; unique constraints make each exactly once however often, late
or doubly it ticks. A later inspection of the party does them.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, select, update

from models import InspectionTask, ItemExpiry, Party, RectificationOrder, Unit, User
from models.base import db, upsert
from models.enums import OrderState, PartyStatus, TaskKind
from workflow import calendar
from workflow.inspections import workdays
from workflow.inspections.parties import party_filter
from workflow.paging import Page, by_column

BATCH = 1000
OPEN, DONE = "open", "done"


def plan_tasks(*, now: datetime) -> dict[str, int]:
    """Make the re-inspections and re-checks that have come due by `now` (each once)."""
    return {"reinspections": _insert(_due_reinspections(now), ["order_id"]),
            "rechecks": _insert(_due_rechecks(now), ["party_id", "item_code", "expires_on"])}


def _due_reinspections(now: datetime) -> list[dict]:
    made = exists().where(InspectionTask.order_id == RectificationOrder.id)
    stmt = (select(RectificationOrder.id, RectificationOrder.party_id, RectificationOrder.deadline_on)
            .where(RectificationOrder.state == OrderState.OPEN, RectificationOrder.deadline_at <= now, ~made)
            .order_by(RectificationOrder.id).limit(BATCH))
    return [{"kind": TaskKind.REINSPECTION.value, "party_id": party_id, "order_id": order_id, "due_on": due_on,
             "state": OPEN, "created_at": now} for order_id, party_id, due_on in db.session.execute(stmt)]


def _due_rechecks(now: datetime) -> list[dict]:
    made = exists().where(InspectionTask.party_id == ItemExpiry.party_id,
                          InspectionTask.item_code == ItemExpiry.item_code,
                          InspectionTask.expires_on == ItemExpiry.expires_on)
    stmt = (select(ItemExpiry.party_id, ItemExpiry.item_code, ItemExpiry.expires_on, ItemExpiry.recheck_at)
            .join(Party, Party.id == ItemExpiry.party_id)
            .where(ItemExpiry.recheck_at <= now, Party.status == PartyStatus.OPERATING, ~made)
            .order_by(ItemExpiry.recheck_at, ItemExpiry.party_id).limit(BATCH))
    return [{"kind": TaskKind.RECHECK.value, "party_id": party_id, "item_code": item_code, "expires_on": expires_on,
             "due_on": expires_on, "state": OPEN, "created_at": now}
            for party_id, item_code, expires_on, _ in db.session.execute(stmt)]


def _insert(rows: list[dict], keys: list[str]) -> int:
    """Insert the tasks none of which may exist twice: a row another scheduler made first is skipped."""
    made = 0
    for row in rows:  # RETURNING counts what was inserted (rowcount is -1 through the ORM on PostgreSQL)
        stmt = (upsert(InspectionTask).values(**row).on_conflict_do_nothing(index_elements=keys)
                .returning(InspectionTask.id))
        made += len(db.session.execute(stmt).all())
    return made


def recheck_at(*, expires_on: date, days_before: int, unit_tz: str) -> datetime:
    """When a re-check ahead of `expires_on` comes due: the opening of the working day on or before
    `days_before` days ahead of it."""
    work = calendar.load_calendar(db.session)
    day = workdays.on_or_before(expires_on - timedelta(days=days_before), work)
    return workdays.opening(day, work, ZoneInfo(unit_tz))


def remember_expiry(*, party: Party, item_code: str, inspection_id: int, value: date, expires_on: date,
                    days_before: int) -> None:
    """Keep the latest answer of a dated item: its expiry and when its re-check comes due."""
    unit = db.session.get(Unit, party.grid_unit_id)
    due = recheck_at(expires_on=expires_on, days_before=days_before, unit_tz=unit.timezone)
    values = {"inspection_id": inspection_id, "value": value, "expires_on": expires_on, "recheck_at": due}
    stmt = (upsert(ItemExpiry).values(party_id=party.id, item_code=item_code, **values)
            .on_conflict_do_update(index_elements=["party_id", "item_code"], set_=values))
    db.session.execute(stmt)


def finish(*, party_id: int, now: datetime, inspection_id: int, item_codes: list[str],
           order_id: int | None = None) -> int:
    """Mark done the party's open tasks that this inspection did: re-checks of the items it answered, and the
    re-inspection of the order it closed."""
    did = InspectionTask.item_code.in_(item_codes) if item_codes else None
    if order_id is not None:
        did = InspectionTask.order_id == order_id if did is None else did | (InspectionTask.order_id == order_id)
    if did is None:
        return 0
    stmt = (update(InspectionTask).where(and_(InspectionTask.party_id == party_id, InspectionTask.state == OPEN, did))
            .values(state=DONE, done_at=now, done_by_inspection_id=inspection_id)
            .execution_options(synchronize_session=False))
    return db.session.execute(stmt).rowcount


# --- reading ---------------------------------------------------------------------------------------

def list_tasks(*, actor: User, limit: int, cursor: str | None = None, state: list[str] | None = None,
               kind: list[str] | None = None, party_id: int | None = None) -> Page:
    """The tasks at the parties `actor` may see (officers: their grids), by id."""
    conds = [InspectionTask.state.in_(state) if state else None, InspectionTask.kind.in_(kind) if kind else None,
             InspectionTask.party_id == party_id if party_id else None]
    stmt = select(InspectionTask).where(InspectionTask.party_id.in_(select(Party.id).where(party_filter(actor))),
                                        *[c for c in conds if c is not None])
    return by_column(stmt, InspectionTask.id, limit=limit, cursor=cursor)


def open_at_points(point_ids: list[int]) -> list[int]:
    """The open tasks at parties standing at these points (a round's checklist carries them)."""
    if not point_ids:
        return []
    stmt = (select(InspectionTask.id).join(Party, Party.id == InspectionTask.party_id)
            .where(InspectionTask.state == OPEN, Party.point_id.in_(point_ids)).order_by(InspectionTask.id))
    return list(db.session.scalars(stmt))
