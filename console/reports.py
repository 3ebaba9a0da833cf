"""The figures pages: patrols of the week, statistics with charts, the map of points — all the workflow's."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Response, current_app, g, render_template, request
from markupsafe import Markup
from sqlalchemy import func, select

from api.context import request_now
from console.blueprint import bp
from console.svg import bars, points_map
from console.text import t
from models import Grid, PatrolPlan, PatrolRound, Point, Problem, UnitReport
from models.base import db
from models.enums import Role
from workflow.ledger import reports, unit_reports
from workflow.patrols import coverage
from workflow.patrols.plans import visible_plans
from workflow.patrols.rounds import list_rounds
from workflow.problems import visibility
from workflow.scope import problem_filter, subtree_ids

HOT_POINTS = 5
MAP_DAYS = 90


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["RECTIFY_TIMEZONE"])


def _week(now: datetime) -> tuple[datetime, datetime]:
    today = now.astimezone(_tz()).date()
    monday = datetime.combine(today - timedelta(days=today.weekday()), datetime.min.time(), tzinfo=_tz())
    return monday, monday + timedelta(days=7)


def _month(now: datetime) -> tuple[datetime, datetime]:
    today = now.astimezone(_tz()).date()
    first = datetime.combine(today.replace(day=1), datetime.min.time(), tzinfo=_tz())
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following


@bp.route("/patrols")
def patrols():
    """巡查: the plans I can see, this week's rounds with their state, and the week's coverage by plan."""
    actor, now = g.actor, request_now()
    start, end = _week(now)
    plans = db.session.scalars(select(PatrolPlan).where(visible_plans(actor)).order_by(PatrolPlan.id).limit(200)).all()
    rounds = db.session.scalars(list_rounds(actor=actor, start=start, end=end)
                                .order_by(PatrolRound.planned_start, PatrolRound.id).limit(300)).all()
    figures = coverage.coverage(actor=actor, start=start, end=end, group_by="plan", tz=str(_tz()))
    names = {plan.id: plan.name for plan in plans}
    return render_template("console/patrols.html", plans=plans, rounds=rounds, names=names, figures=figures,
                           start=start, end=end)


@bp.route("/statistics")
def statistics():
    """统计: this month's figures by unit (chart), the evaluation ranking, the unit reports to download."""
    actor, now = g.actor, request_now()
    start, end = _month(now)
    summary = reports.summary(actor=actor, now=now, start=start, end=end, group_by="unit", tz=str(_tz()),
                              with_stage_times=False)
    chart = bars([(row["label"], [row["reported"], row["closed"], row["overdue"]]) for row in summary["rows"]],
                 [t("n_reported"), t("n_closed"), t("n_overdue")])
    ranking = reports.evaluate(actor=actor, now=now, start=start, end=end, tz=str(_tz()),
                               indicators=current_app.config["EVALUATION_INDICATORS"])
    listed = []
    if actor.role in (Role.SUPERVISOR, Role.ADMIN):
        listed = db.session.scalars(unit_reports.select_reports(actor=actor)
                                    .order_by(UnitReport.period_start.desc(), UnitReport.id.desc()).limit(30)).all()
    return render_template("console/statistics.html", summary=summary, chart=Markup(chart), ranking=ranking,
                           reports=listed, start=start, end=end)


@bp.route("/statistics/reports/<int:report_id>.xlsx")
def unit_report(report_id):
    """One unit report's XLSX (supervisors of its unit's tree and admins)."""
    report = unit_reports.get_report(actor=g.actor, report_id=report_id)
    name = f"unit-{report.unit_id}-{report.kind}-{report.period_start:%Y%m%d}.xlsx"
    return Response(report.xlsx, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _visible_grids():
    actor = g.actor
    if actor.role == Role.ADMIN:
        return select(Grid.id)
    if actor.role == Role.OFFICER:
        return select(Grid.id).where(Grid.id.in_(actor.grid_ids or [0]))
    if actor.unit is None:
        return select(Grid.id).where(Grid.id.is_(None))
    return select(Grid.id).where(Grid.unit_id.in_(subtree_ids(actor.unit)))


def _points(grid_id: int | None, now: datetime) -> list[dict]:
    """Points (of one grid or all visible) with their problems of the last 90 days in the caller's scope."""
    counted = (select(Problem.point_id, func.count().label("n"))
               .where(problem_filter(g.actor), Problem.point_id.is_not(None),
                      Problem.reported_at >= now - timedelta(days=MAP_DAYS))
               .group_by(Problem.point_id).subquery())
    stmt = (select(Point, func.coalesce(counted.c.n, 0)).outerjoin(counted, counted.c.point_id == Point.id)
            .where(Point.grid_id.in_(_visible_grids())).order_by(Point.id).limit(2000))
    if grid_id:
        stmt = stmt.where(Point.grid_id == grid_id)
    rows = [{"id": p.id, "name": p.name, "lat": p.lat, "lng": p.lng, "count": n, "grid_id": p.grid_id}
            for p, n in db.session.execute(stmt)]
    for row in sorted((r for r in rows if r["count"]), key=lambda r: -r["count"])[:HOT_POINTS]:
        row["hot"] = True
    return rows


@bp.route("/map")
def map_page():
    """地图: the points of a grid (or all I can see) placed by their coordinates, the hot ones marked."""
    grid_id = request.args.get("grid_id", type=int)
    points = _points(grid_id, request_now())
    grids = db.session.scalars(select(Grid).where(Grid.id.in_(_visible_grids())).order_by(Grid.id).limit(500)).all()
    hot = sorted((p for p in points if p.get("hot")), key=lambda p: -p["count"])
    return render_template("console/map.html", svg=Markup(points_map(points)), grids=grids, grid_id=grid_id,
                           hot=hot, days=MAP_DAYS)


@bp.route("/problems/<int:problem_id>/map.svg")
def problem_map(problem_id):
    """A small map of the problem's place among its grid's points."""
    problem = visibility.get_problem(actor=g.actor, problem_id=problem_id)
    points = [p | {"count": 0, "hot": False} for p in _points(problem.grid_id, request_now())]
    marker = {"lat": problem.lat, "lng": problem.lng} if problem.lat is not None and problem.lng is not None else None
    svg = points_map(points, width=320, height=200, marker=marker)
    return Response(svg, content_type="image/svg+xml")
