"""The campaign's gas-safety inspection ledger (燃气安全检查台账) as XLSX: one row per party in scope with every
checklist item's latest answer in the campaign, the order numbers and where the party stands on the ladder.

Text typed by people goes through `workflow.ledger.exports.safe_text`: a cell that would start with = + - @, a
tab or a carriage return gets a leading apostrophe, so a spreadsheet shows it instead of running it as a formula.
"""

import io
from collections import defaultdict
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from models import Grid, Inspection, LadderStep, Party, RectificationOrder, Unit, User
from models.base import db
from workflow.inspections import coverage, parties, templates
from workflow.inspections.vocabulary import label
from workflow.ledger.exports import safe_text
from workflow.ledger.lists import get_list

SHEET = "燃气安全检查台账"
BATCH = 1000
LEADING = [("序号", 6), ("经营主体", 24), ("类型", 8), ("统一社会信用代码", 21), ("网格", 14), ("地址", 28),
           ("联系人", 8), ("联系电话", 14), ("首次检查时间", 17), ("检查人", 8), ("首次检查结果", 10)]
TRAILING = [("整改通知书编号", 34), ("整改期限", 11), ("复查结果", 10), ("执法阶梯", 12), ("最近检查时间", 17)]


def workbook(*, actor: User, list_id: int) -> tuple[str, bytes]:
    """(file name, XLSX bytes) of the campaign's ledger."""
    campaign = get_list(actor=actor, list_id=list_id)
    scope = coverage.get_scope(actor=actor, list_id=list_id)
    items = coverage.campaign_items(scope)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET)
    columns = [*LEADING, *[(item["label"], 14) for item in items], *TRAILING]
    for index, (_, width) in enumerate(columns, 1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "C2"
    sheet.append([name for name, _ in columns])
    for row in _rows(actor, campaign, scope, items):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return f"{SHEET}-{list_id}.xlsx", out.getvalue()


def _rows(actor: User, campaign, scope, items: list[dict]):
    facts = _Facts.load(campaign.id)
    stmt = (select(Party).where(coverage.in_scope(scope, campaign)).order_by(Party.grid_id, Party.id)
            .execution_options(yield_per=BATCH))
    batch: list[Party] = []
    number = 0
    for party in db.session.scalars(stmt):
        batch.append(party)
        if len(batch) == BATCH:
            yield from _render(actor, batch, facts, items, number)
            number, batch = number + len(batch), []
    yield from _render(actor, batch, facts, items, number)


def _render(actor: User, batch: list[Party], facts: "_Facts", items: list[dict], number: int):
    parties.mark_contacts(actor, batch)
    for offset, party in enumerate(batch, 1):
        contact = parties.contact(party)
        tz = ZoneInfo(facts.timezones[party.grid_unit_id])
        latest = facts.latest.get(party.id)
        yield [number + offset, safe_text(party.name), label("party_kind", party.kind), party.credit_code or "",
               safe_text(facts.grids.get(party.grid_id)), safe_text(party.address),
               safe_text(contact["contact_name"]), safe_text(contact["contact_phone"]),
               *_first_cells(facts.first.get(party.id), tz, facts), *[_answer(item, latest) for item in items],
               *_order_cells(facts.orders.get(party.id, [])), facts.steps.get(party.ladder_step, ""),
               _local(latest.at, tz) if latest else ""]


def _first_cells(first: Inspection | None, tz: ZoneInfo, facts: "_Facts") -> list[str]:
    if first is None:
        return ["", "", "未检查"]
    return [_local(first.at, tz), safe_text(facts.officers.get(first.officer_id)), label("outcome", first.outcome)]


def _order_cells(orders: list[RectificationOrder]) -> list[str]:
    if not orders:
        return ["", "", ""]
    return ["、".join(order.number for order in orders), orders[-1].deadline_on.isoformat(),
            label("order_state", orders[-1].state)]


def _answer(item: dict, inspection: Inspection | None) -> str:
    result = next((r for r in inspection.results if r["item"] == item["code"]), None) if inspection else None
    if result is None:
        return ""
    shown = templates.display(item, result["value"])
    if result.get("failed") and item["type"] != "check":
        shown += "（不合格）"
    return safe_text(shown)


def _local(at, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


class _Facts:
    """What the rows read beside the parties, each in one statement: the campaign's inspections (first and
    latest per party) and orders, names of grids, officers and steps, units' timezones."""

    @classmethod
    def load(cls, list_id: int) -> "_Facts":
        """Read the facts of a campaign's ledger."""
        facts = cls()
        facts.first, facts.latest = {}, {}
        for inspection in db.session.scalars(select(Inspection).where(Inspection.list_id == list_id)
                                             .order_by(Inspection.at, Inspection.id)):
            facts.first.setdefault(inspection.party_id, inspection)
            facts.latest[inspection.party_id] = inspection
        facts.orders = defaultdict(list)
        for order in db.session.scalars(select(RectificationOrder).where(RectificationOrder.list_id == list_id)
                                        .order_by(RectificationOrder.id)):
            facts.orders[order.party_id].append(order)
        facts.grids = _names(Grid)
        facts.officers = _names(User)
        facts.steps = dict(db.session.execute(select(LadderStep.code, LadderStep.name)).tuples().all())
        facts.timezones = dict(db.session.execute(select(Unit.id, Unit.timezone)).tuples().all())
        return facts


def _names(model) -> dict[int, str]:
    return dict(db.session.execute(select(model.id, model.name)).tuples().all())
