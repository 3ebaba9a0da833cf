"""Orders to rectify (责令限期整改通知书): numbered per issuing unit and year, with a deadline in working days.

The number reads `<unit name>责改字〔2026〕第0012号`: the issuing unit's own sequence for the local year of the
inspection. The deadline is the end of the working day `rectify_days` working days after the inspection (the
longest of the failed items': each problem keeps its own item's deadline).
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from models import Inspection, OrderCounter, Party, RectificationOrder, Unit, User
from models.base import db, mark_written, upsert
from models.enums import OrderState, PartyAction
from workflow import calendar
from workflow.errors import Invalid, NotFound
from workflow.inspections import templates, trail, workdays
from workflow.inspections.parties import party_filter
from workflow.paging import Page, by_column

TITLE = "责令限期整改通知书"
PREFIX_SUFFIX = "责改字"


def prefix(unit: Unit) -> str:
    """The issuing unit's prefix of order numbers."""
    return f"{unit.name}{PREFIX_SUFFIX}"


def next_number(unit: Unit, year: int) -> tuple[int, str]:
    """Hand out the unit's next sequence number of the year, atomically on both databases."""
    stmt = (upsert(OrderCounter).values(unit_id=unit.id, year=year, last=1)
            .on_conflict_do_update(index_elements=["unit_id", "year"], set_={"last": OrderCounter.last + 1})
            .returning(OrderCounter.last))
    seq = db.session.execute(stmt).scalar_one()
    return seq, f"{prefix(unit)}〔{year}〕第{seq:04d}号"


def deadline(unit_tz: str, at: datetime, days: int) -> tuple:
    """(local date, UTC instant) of the end of the working day `days` working days after `at`'s local date."""
    tz = ZoneInfo(unit_tz)
    work = calendar.load_calendar(db.session)
    day = workdays.after(at.astimezone(tz).date(), days, work)
    return day, workdays.closing(day, work, tz)


def issue(*, actor: User, party: Party, inspection: Inspection, answers: list, list_id: int | None,
          now: datetime) -> RectificationOrder:
    """Issue an order for the failed answers of an inspection (numbered now, dated the inspection's day)."""
    unit = actor.unit
    if unit is None:
        raise Invalid("orders are issued by a unit: the inspecting user has none")
    year = inspection.at.astimezone(ZoneInfo(unit.timezone)).year
    seq, number = next_number(unit, year)
    deadline_on, deadline_at = deadline(unit.timezone, inspection.at, max(a.item["rectify_days"] for a in answers))
    items = [{"code": a.item["code"], "label": a.item["label"], "result": templates.display(a.item, a.value),
              "requirement": a.item.get("requirement"), "note": a.note} for a in answers]
    if list_id is not None:  # the campaign's coverage reads the party's latest order only
        db.session.execute(update(RectificationOrder).where(RectificationOrder.list_id == list_id,
                                                            RectificationOrder.party_id == party.id)
                           .values(superseded=True).execution_options(synchronize_session=False))
    order = RectificationOrder(number=number, unit_id=unit.id, year=year, seq=seq, party_id=party.id,
                               inspection_id=inspection.id, list_id=list_id, issued_by_id=actor.id,
                               issued_at=inspection.at, deadline_on=deadline_on, deadline_at=deadline_at,
                               items=items, state=OrderState.OPEN, superseded=False)
    db.session.add(order)
    db.session.flush()
    trail.record(party, actor, now, PartyAction.ORDER, fields={
        "order_id": order.id, "number": number, "deadline_on": deadline_on.isoformat(),
        "inspection_id": inspection.id, "items": [a.item["code"] for a in answers]})
    return order


def open_order(party_id: int) -> RectificationOrder | None:
    """The party's order still waiting for its re-inspection (the latest, should there be several)."""
    stmt = (select(RectificationOrder).where(RectificationOrder.party_id == party_id,
                                             RectificationOrder.state == OrderState.OPEN)
            .order_by(RectificationOrder.id.desc()).limit(1))
    return db.session.scalars(stmt).first()


def close(order: RectificationOrder, *, state: OrderState, inspection: Inspection, now: datetime) -> bool:
    """Mark an open order complied or failed by a re-inspection; False if someone closed it first."""
    row = db.session.execute(update(RectificationOrder).where(RectificationOrder.id == order.id,
                                                              RectificationOrder.state == OrderState.OPEN)
                             .values(state=state, closed_at=now, closed_by_inspection_id=inspection.id)
                             .returning(RectificationOrder.id).execution_options(synchronize_session=False)).first()
    if row is None:
        return False
    mark_written(order, {"state": state.value, "closed_at": now, "closed_by_inspection_id": inspection.id})
    return True


# --- reading -------------------------------------------------------------------------------------

def visible_orders(actor: User):
    """The SQL condition for the orders at parties `actor` may see."""
    return RectificationOrder.party_id.in_(select(Party.id).where(party_filter(actor)))


def get_order(*, actor: User, order_id: int) -> RectificationOrder:
    """An order `actor` may see, else NotFound."""
    order = db.session.scalars(select(RectificationOrder).where(RectificationOrder.id == order_id,
                                                                visible_orders(actor))).first()
    if order is None:
        raise NotFound(f"order {order_id} not found")
    return order


def list_orders(*, actor: User, limit: int, cursor: str | None = None, party_id: int | None = None,
                list_id: int | None = None, state: list[str] | None = None) -> Page:
    """A page of the orders `actor` may see, by id, filtered."""
    conds = [RectificationOrder.party_id == party_id if party_id else None,
             RectificationOrder.list_id == list_id if list_id else None,
             RectificationOrder.state.in_(state) if state else None]
    stmt = select(RectificationOrder).where(visible_orders(actor), *[c for c in conds if c is not None])
    return by_column(stmt, RectificationOrder.id, limit=limit, cursor=cursor)


def printable(*, actor: User, order_id: int) -> dict:
    """What the printed notice says: the issuing unit, the party, the findings, the deadline, who inspected."""
    order = get_order(actor=actor, order_id=order_id)
    party, unit = db.session.get(Party, order.party_id), db.session.get(Unit, order.unit_id)
    inspection = db.session.get(Inspection, order.inspection_id)
    officer = db.session.get(User, inspection.officer_id)
    tz = ZoneInfo(unit.timezone)
    return {"order": order, "title": TITLE, "unit_name": unit.name, "party": party, "officer_name": officer.name,
            "inspected_on": _chinese_date(inspection.at.astimezone(tz).date()),
            "issued_on": _chinese_date(order.issued_at.astimezone(tz).date()),
            "deadline_on": _chinese_date(order.deadline_on)}


def _chinese_date(day) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
