"""Daily and weekly unit reports (日报 / 周报): a unit's ledger for yesterday or last week, made by the scheduler,
stored as figures and as an XLSX file, and downloadable.

Figures for unit U and a period of whole local days in U's timezone, [start, end), over the problems of U's
subtree (their grid's unit or their responsible unit lies in it):
- new: reported in the period; closed: closed in the period; cancelled: cancelled in the period (by its event);
- overdue: open when the report is made and overdue at the end of the period (`Problem.is_overdue`: past a
  stage or whole-case deadline, or suspended after one passed);
  with the longest overdue among them (hours past the earliest passed deadline at the end of the period);
- escalated: escalation steps fired in the period on those problems;
- rounds_missed / rounds_scheduled: patrol rounds of plans of U's subtree whose window started in the period;
- top_points: the places with the most problems reported in the RECURRENCE_DAYS days up to the period's end
  (at least two), most first, at most five;
- activities: campaign activity days organised by U's subtree that started in the period, with their summed
  participants, volunteers, households or people reached and materials handed out (decision 0092).
A report is made once per (unit, kind, period): the first scheduler tick after the unit's local midnight makes
yesterday's daily report and, on Mondays, last week's weekly report.
"""

import io
import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError

from models import EscalationFiring, PatrolPlan, PatrolRound, Point, Problem, ProblemEvent, Unit, User
from models.base import db
from models.enums import Role, RoundState, State, label
from models.report import UnitReport
from workflow.errors import Forbidden, NotFound
from workflow.ledger import activities
from workflow.ledger.exports import safe_text
from workflow.ledger.reports import RECURRENCE_DAYS
from workflow.scope import subtree_ids

log = logging.getLogger(__name__)
KINDS = ("daily", "weekly")
TOP_POINTS = 5
OVERDUE_ROWS = 500
LABELS = {"new": "新增问题", "closed": "办结问题", "cancelled": "撤销问题", "overdue": "超期未办结",
          "overdue_max_hours": "最长超期（小时）", "escalated": "督办升级", "rounds_scheduled": "计划巡查轮次",
          "rounds_missed": "漏巡轮次"}
ACTIVITY_LABELS = {"activities": "活动次数", "participants": "活动参与人次", "volunteers": "志愿者人次",
                   "reached": "覆盖户/人", "materials": "发放资料（份）"}


def period_of(kind: str, today: date) -> tuple[date, date]:
    """The last complete period before local `today`: (first day, last day), inclusive."""
    if kind == "daily":
        return today - timedelta(days=1), today - timedelta(days=1)
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(days=7), monday - timedelta(days=1)


def _bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return (datetime.combine(first, time(), tzinfo=tz),
            datetime.combine(last + timedelta(days=1), time(), tzinfo=tz))


def _in_unit(unit: Unit):
    units = subtree_ids(unit)
    return or_(Problem.grid_unit_id.in_(units), Problem.unit_id.in_(units))


def _open_overdue(end: datetime):
    """Still open and overdue (the one definition) at `end`: 超期未办结."""
    return and_(Problem.overdue_clause(end), Problem.state.not_in((State.CLOSED, State.CANCELLED)))


def figures(unit: Unit, start: datetime, end: datetime) -> dict:
    """The report's figures for `unit` over [start, end) (see the module's definitions)."""
    mine = _in_unit(unit)

    def count(stmt) -> int:
        return db.session.scalar(stmt) or 0

    overdue = and_(mine, _open_overdue(end), Problem.reported_at < end)
    cancelled = (select(func.count()).select_from(ProblemEvent).join(Problem, Problem.id == ProblemEvent.problem_id)
                 .where(mine, ProblemEvent.to_state == State.CANCELLED, ProblemEvent.from_state != State.CANCELLED,
                        ProblemEvent.at >= start, ProblemEvent.at < end))
    rounds = (select(func.count()).select_from(PatrolRound).join(PatrolPlan, PatrolPlan.id == PatrolRound.plan_id)
              .where(PatrolPlan.unit_id.in_(subtree_ids(unit)), PatrolRound.state != RoundState.CANCELLED,
                     PatrolRound.planned_start >= start, PatrolRound.planned_start < end))
    earliest = db.session.execute(select(
        func.min(case((Problem.stage_due_at <= end, Problem.stage_due_at))),
        func.min(case((Problem.due_at <= end, Problem.due_at)))).where(overdue)).one()
    passed = [at for at in earliest if at is not None]
    return {
        "new": count(select(func.count()).where(mine, Problem.reported_at >= start, Problem.reported_at < end)),
        "closed": count(select(func.count()).where(mine, Problem.closed_at >= start, Problem.closed_at < end,
                                                   Problem.state == State.CLOSED)),
        "cancelled": count(cancelled),
        "overdue": count(select(func.count()).where(overdue)),
        "overdue_max_hours": round((end - min(passed)).total_seconds() / 3600, 1) if passed else None,
        "escalated": count(select(func.count()).select_from(EscalationFiring)
                           .join(Problem, Problem.id == EscalationFiring.problem_id)
                           .where(mine, EscalationFiring.fired_at >= start, EscalationFiring.fired_at < end)),
        "rounds_scheduled": count(rounds),
        "rounds_missed": count(rounds.where(PatrolRound.state == RoundState.MISSED)),
        "top_points": _top_points(mine, end),
        "activities": activities.unit_figures(unit, start, end),
    }


def _top_points(mine, end: datetime) -> list[dict]:
    since = end - timedelta(days=RECURRENCE_DAYS)
    stmt = (select(Point.id, Point.name, func.count(Problem.id).label("problems"))
            .join(Problem, Problem.point_id == Point.id)
            .where(mine, Problem.reported_at >= since, Problem.reported_at < end, Problem.state != State.CANCELLED)
            .group_by(Point.id, Point.name).having(func.count(Problem.id) >= 2)
            .order_by(func.count(Problem.id).desc(), Point.id).limit(TOP_POINTS))
    return [{"point_id": row.id, "name": row.name, "problems": row.problems} for row in db.session.execute(stmt)]


def _overdue_problems(unit: Unit, end: datetime) -> list[Problem]:
    stmt = (select(Problem).where(_in_unit(unit), _open_overdue(end), Problem.reported_at < end)
            .order_by(Problem.reported_at, Problem.id).limit(OVERDUE_ROWS))
    return list(db.session.scalars(stmt))


def render_xlsx(unit: Unit, report: dict, overdue: list[Problem]) -> bytes:
    """The report as an XLSX workbook: 汇总 (the figures), 高发点位 (top points), 超期问题 (overdue problems)."""
    book = Workbook()
    summary = book.active
    summary.title = "汇总"
    kind = "日报" if report["kind"] == "daily" else "周报"
    period = report["period_start"].isoformat() if report["period_start"] == report["period_end"] \
        else f"{report['period_start'].isoformat()} 至 {report['period_end'].isoformat()}"
    summary.append([safe_text(f"{unit.name} 整改台账{kind}"), period])
    summary["A1"].font = Font(bold=True)
    for name, title in LABELS.items():
        value = report["figures"][name]
        summary.append([title, "" if value is None else value])
    for name, title in ACTIVITY_LABELS.items():  # reports made before activities were counted have none
        summary.append([title, report["figures"].get("activities", {}).get(name, 0)])
    summary.column_dimensions["A"].width, summary.column_dimensions["B"].width = 20, 26
    points = book.create_sheet("高发点位")
    points.append(["点位", f"近 {RECURRENCE_DAYS} 天问题数"])
    for point in report["figures"]["top_points"]:
        points.append([safe_text(point["name"]), point["problems"]])
    points.column_dimensions["A"].width = 30
    late = book.create_sheet("超期问题")
    late.append(["编号", "标题", "状态", "环节期限", "整改期限"])
    tz = ZoneInfo(unit.timezone)
    for problem in overdue:
        late.append([safe_text(problem.code), safe_text(problem.title), label(problem.state),
                     _local(problem.stage_due_at, tz), _local(problem.due_at, tz)])
    for sheet in (points, late):
        sheet.freeze_panes = "A2"
    for column, width in zip("ABCDE", (20, 30, 10, 17, 17), strict=True):
        late.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _local(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""


def make_report(unit: Unit, kind: str, first: date, last: date, *, now: datetime) -> UnitReport | None:
    """Make and store one report; None when it already exists (made by an earlier or a concurrent tick)."""
    tz = ZoneInfo(unit.timezone)
    start, end = _bounds(first, last, tz)
    report = {"kind": kind, "period_start": first, "period_end": last, "figures": figures(unit, start, end)}
    row = UnitReport(unit_id=unit.id, kind=kind, period_start=first, period_end=last, timezone=unit.timezone,
                     figures=report["figures"], xlsx=render_xlsx(unit, report, _overdue_problems(unit, end)),
                     created_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        return None
    return row


def make_due_reports(*, now: datetime) -> dict[str, int]:
    """Make every unit's daily report for its local yesterday and, on Mondays, its weekly report; once each.

    Each report is made on its own: one that fails is logged, left unmade and tried again at the next tick,
    and the other units still get theirs."""
    due = []
    for unit in db.session.scalars(select(Unit).order_by(Unit.id)):
        today = now.astimezone(ZoneInfo(unit.timezone)).date()
        due += [(unit, kind, *period_of(kind, today)) for kind in KINDS if kind == "daily" or today.weekday() == 0]
    counts = {"made": 0, "failed": 0}
    if not due:
        return counts
    made_already = set(db.session.execute(select(UnitReport.unit_id, UnitReport.kind, UnitReport.period_start)
                                          .where(UnitReport.period_start >= min(first for _, _, first, _ in due)))
                       .tuples())
    for unit, kind, first, last in due:
        if (unit.id, kind, first) not in made_already:
            outcome = _make_isolated(unit, kind, first, last, now)
            counts[outcome] = counts.get(outcome, 0) + 1
    counts.pop("exists", None)
    return counts


def _make_isolated(unit: Unit, kind: str, first: date, last: date, now: datetime) -> str:
    """made, exists or failed: one report in a savepoint of its own."""
    unit_id = unit.id
    try:
        with db.session.begin_nested():
            return "made" if make_report(unit, kind, first, last, now=now) is not None else "exists"
    except Exception:  # one unit's report must not stop the others'
        log.exception("the %s report of unit %d for %s failed; the next tick tries again", kind, unit_id,
                      first.isoformat(), extra={"unit_id": unit_id, "kind": kind})
        return "failed"


# --- reading ---------------------------------------------------------------------------------

def visible_reports(actor: User):
    """Admins see every report; a supervisor those of their unit's subtree."""
    if actor.role == Role.ADMIN:
        return UnitReport.id.is_not(None)
    if actor.role == Role.SUPERVISOR and actor.unit is not None:
        return UnitReport.unit_id.in_(subtree_ids(actor.unit))
    raise Forbidden("unit reports are for supervisors and admins")


def select_reports(*, actor: User, unit_id: int | None = None, kind: str | None = None,
                   since: date | None = None, until: date | None = None):
    stmt = select(UnitReport).where(visible_reports(actor))
    conds = [UnitReport.unit_id == unit_id if unit_id else None, UnitReport.kind == kind if kind else None,
             UnitReport.period_start >= since if since else None, UnitReport.period_start <= until if until else None]
    return stmt.where(*[c for c in conds if c is not None])


def get_report(*, actor: User, report_id: int) -> UnitReport:
    report = db.session.scalars(select(UnitReport).where(UnitReport.id == report_id, visible_reports(actor))).first()
    if report is None:
        raise NotFound("no such report")
    return report

