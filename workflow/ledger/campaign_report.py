"""The campaign report (专项行动工作报告) as XLSX, one per campaign or drive, for a street office to hand to the
district (decision 0093).

Sheets: 封面 (period, units, headline figures), 分项进度 (the list and each star with its progress, and the sum),
问题清单 (each star's items), 活动记录 (activity days), 超期问题 (overdue items with the unit and the person who
own them). Times are real date cells in the lead unit's local time (Excel has no zones: the cover names it);
text people typed goes through the shared `safe_text`, so it never runs as a formula.
"""

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from models import Category, Point, Problem, ProblemList, Unit, User, problem_list_items
from models.base import db
from models.enums import ListState, label
from workflow.ledger import activities, lists
from workflow.ledger.exports import safe_text

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE, DATETIME = "yyyy-mm-dd", "yyyy-mm-dd hh:mm"
BOLD = Font(bold=True)
CHILDREN = [("清单", 28), ("类型", 8), ("牵头单位", 16), ("配合单位", 24), ("完成期限", 12), ("状态", 8),
            ("问题数", 8), ("已办结", 8), ("未办结", 8), ("超期", 8), ("按期办结率", 11)]
ITEMS = [("清单", 20), ("编号", 18), ("类别", 14), ("标题", 30), ("状态", 8), ("所属单位", 14), ("责任单位", 14),
         ("上报时间", 17), ("整改期限", 17), ("结案时间", 17), ("是否超期", 8)]
ACTIVITIES = [("清单", 20), ("类型", 10), ("开始时间", 17), ("结束时间", 17), ("地点", 24), ("组织单位", 16),
              ("参与人数", 9), ("志愿者", 8), ("覆盖户/人", 10), ("发放资料", 9), ("照片", 6), ("备注", 30)]
OVERDUE = [("清单", 20), ("编号", 18), ("标题", 30), ("状态", 8), ("环节期限", 17), ("整改期限", 17),
           ("超期（小时）", 11), ("责任单位", 16), ("处置人", 10), ("督办", 6)]
KINDS = {"campaign": "专项", "star": "星级", "round_findings": "巡查发现", "other": "其他"}
STATES = {ListState.OPEN: "进行中", ListState.CLOSED: "已结束"}


def workbook(*, actor: User, list_id: int, now: datetime) -> tuple[str, bytes]:
    """(file name, XLSX bytes) of the report of a list the caller sees (its children included)."""
    problem_list = lists.get_list(actor=actor, list_id=list_id)
    report = _Report(problem_list, now)
    book = Workbook()
    report.cover(book.active)
    report.children(book.create_sheet("分项进度"))
    report.items(book.create_sheet("问题清单"))
    report.activities(book.create_sheet("活动记录"))
    report.overdue(book.create_sheet("超期问题"))
    out = io.BytesIO()
    book.save(out)
    return f"专项行动报告-{list_id}.xlsx", out.getvalue()


class _Report:
    def __init__(self, problem_list: ProblemList, now: datetime):
        self.list, self.now = problem_list, now
        self.kids = lists.children_of(problem_list.id)
        self.all = [problem_list, *self.kids]
        self.progress = lists.rolled_up(problem_list, self.kids, now)
        self.units = dict(db.session.execute(select(Unit.id, Unit.name)).tuples().all())
        self.lead = db.session.get(Unit, problem_list.lead_unit_id)
        self.tz = ZoneInfo(self.lead.timezone)
        self.activity_rows = activities.activities_of(problem_list)
        self.totals = activities.totals_of(problem_list)["totals"]

    def local(self, value: datetime | None) -> datetime | None:
        """A naive local datetime, which openpyxl writes as a real date cell."""
        return value.astimezone(self.tz).replace(tzinfo=None) if value else None

    def cover(self, sheet) -> None:
        sheet.title = "封面"
        figures, listed = self.progress[self.list.id], self.list
        period = " 至 ".join(d.isoformat() for d in (listed.starts_on, listed.ends_on or listed.target_on) if d)
        cooperating = sorted({u for found in self.all for u in found.unit_ids} - {listed.lead_unit_id})
        rows = [(f"{safe_text(listed.name)} 工作报告", None), ("时段", period or "未定"),
                ("牵头单位", safe_text(self.lead.name)),
                ("配合单位", "、".join(safe_text(self.units[u]) for u in cooperating) or "无"),
                ("分项（星级）数", len(self.kids)), ("问题总数", figures["total"]), ("已办结", figures["closed"]),
                ("未办结", figures["open"]), ("超期未办结", figures["overdue"]),
                ("按期办结率", figures["on_time_rate"]), ("活动次数", self.totals["activities"]),
                ("参与人次", self.totals["participants"]), ("志愿者人次", self.totals["volunteers"]),
                ("覆盖户/人", self.totals["reached"]), ("发放资料（份）", self.totals["materials"]),
                ("生成时间", self.local(self.now)), ("时区", self.lead.timezone)]
        for row in rows:
            sheet.append(list(row))
        sheet["A1"].font = BOLD
        sheet.cell(row=10, column=2).number_format = "0.0%"
        sheet.cell(row=len(rows) - 1, column=2).number_format = DATETIME
        sheet.column_dimensions["A"].width, sheet.column_dimensions["B"].width = 18, 40

    def children(self, sheet) -> None:
        _head(sheet, CHILDREN)
        shown = self.kids or [self.list]
        for found in shown:
            self._progress_row(sheet, found, self.progress[found.id])
        if self.kids:
            own = lists.rolled_up(self.list, [], self.now)[self.list.id]
            if own["total"]:
                self._progress_row(sheet, self.list, own, name=f"{self.list.name}（直属）")
            self._progress_row(sheet, self.list, self.progress[self.list.id], name="合计")
            for cell in sheet[sheet.max_row]:
                cell.font = BOLD

    def _progress_row(self, sheet, found: ProblemList, figures: dict, name: str | None = None) -> None:
        sheet.append([safe_text(name or found.name), KINDS.get(found.kind, found.kind),
                      safe_text(self.units[found.lead_unit_id]),
                      "、".join(safe_text(self.units[u]) for u in found.unit_ids), found.target_on or found.ends_on,
                      STATES.get(found.state, found.state), figures["total"], figures["closed"], figures["open"],
                      figures["overdue"], figures["on_time_rate"]])
        sheet.cell(row=sheet.max_row, column=5).number_format = DATE
        sheet.cell(row=sheet.max_row, column=11).number_format = "0.0%"

    def _problems(self):
        """(list, problem) for every item of the list and of its children, list by list, oldest report first."""
        names = {found.id: found.name for found in self.all}
        stmt = (select(problem_list_items.c.list_id, Problem)
                .join(Problem, Problem.id == problem_list_items.c.problem_id)
                .where(problem_list_items.c.list_id.in_(list(names)))
                .order_by(problem_list_items.c.list_id, Problem.reported_at, Problem.id))
        for list_id, problem in db.session.execute(stmt).tuples():
            yield names[list_id], problem

    def items(self, sheet) -> None:
        _head(sheet, ITEMS)
        categories = dict(db.session.execute(select(Category.id, Category.name)).tuples().all())
        for list_name, p in self._problems():
            sheet.append([safe_text(list_name), safe_text(p.code), safe_text(categories[p.category_id]),
                          safe_text(p.title), label(p.state), safe_text(self.units[p.grid_unit_id]),
                          safe_text(self.units.get(p.unit_id)), self.local(p.reported_at), self.local(p.due_at),
                          self.local(p.closed_at), "是" if p.is_overdue(self.now) else "否"])
            _formats(sheet, (8, 9, 10), DATETIME)

    def activities(self, sheet) -> None:
        _head(sheet, ACTIVITIES)
        names = {found.id: found.name for found in self.all}
        points = dict(db.session.execute(select(Point.id, Point.name)).tuples().all())
        photos = activities.photos_of([a.id for a in self.activity_rows])
        for a in self.activity_rows:
            where = "，".join(safe_text(part) for part in (points.get(a.point_id), a.place) if part)
            sheet.append([safe_text(names[a.list_id]), activities.KIND_LABELS[a.kind], self.local(a.starts_at),
                          self.local(a.ends_at), where, safe_text(self.units[a.unit_id]), a.participants,
                          a.volunteers, a.reached, a.materials, len(photos.get(a.id, [])), safe_text(a.note)])
            _formats(sheet, (3, 4), DATETIME)
        if self.activity_rows:
            sheet.append(["合计", None, None, None, None, None, self.totals["participants"], self.totals["volunteers"],
                          self.totals["reached"], self.totals["materials"], None, None])
            for cell in sheet[sheet.max_row]:
                cell.font = BOLD

    def overdue(self, sheet) -> None:
        _head(sheet, OVERDUE)
        handlers = dict(db.session.execute(select(User.id, User.name)).tuples().all())
        for list_name, p in self._problems():
            if not p.is_overdue(self.now):
                continue
            passed = [due for due in (p.stage_due_at, p.due_at) if due is not None and due <= self.now]
            owner = p.unit_id or p.grid_unit_id
            sheet.append([safe_text(list_name), safe_text(p.code), safe_text(p.title), label(p.state),
                          self.local(p.stage_due_at), self.local(p.due_at),
                          round((self.now - min(passed)).total_seconds() / 3600, 1), safe_text(self.units[owner]),
                          safe_text(handlers.get(p.handler_id)), "是" if p.supervised else "否"])
            _formats(sheet, (5, 6), DATETIME)


def _head(sheet, columns: list[tuple[str, int]]) -> None:
    sheet.append([name for name, _ in columns])
    for index, (_, width) in enumerate(columns, 1):
        sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.cell(row=1, column=index).font = BOLD
    sheet.freeze_panes = "A2"


def _formats(sheet, columns: tuple[int, ...], number_format: str) -> None:
    for column in columns:
        sheet.cell(row=sheet.max_row, column=column).number_format = number_format
