"""Daily and weekly unit reports, made by the scheduler once per unit and period, checked by hand.

Wednesday 2026-11-25 (local) in the east subdistrict: three reports at the market at 10:00 — one closed that
morning, one left undispatched (its hour runs out at 11:00: at midnight it is 13 h overdue, and the
"not dispatched" rule fired on it at 11:00), one cancelled; one report at the west night market. A patrol plan of
the east subdistrict misses its 中 and 晚 rounds."""

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models import UnitReport
from models.base import db
from schedules.jobs import run_job
from tests.api.helpers import assert_problem_json
from tests.conftest import NOW
from tests.workflow.patrols.test_patrols import local, make_plan, tick
from workflow.escalation import firing, rules

THURSDAY_MIDNIGHT = local(2026, 11, 26, 0, 5)
MONDAY_MIDNIGHT = local(2026, 11, 30, 0, 5)


@pytest.fixture
def wednesday(world):
    closed = world.to_state("closed")
    waiting = world.report()
    world.to_state("cancelled")
    world.report(by="west_officer", point="night")
    rules.create_rule(actor=None, now=NOW, name="未派遣", trigger="not_dispatched", level=2)
    db.session.commit()
    firing.sweep(now=local(2026, 11, 25, 11, 1))
    make_plan(world)
    tick(NOW)
    tick(local(2026, 11, 25, 22))  # 中 and 晚 pass with nobody checking in
    return {"closed": closed, "waiting": waiting}


def reports(unit=None, kind=None) -> list[UnitReport]:
    stmt = select(UnitReport).order_by(UnitReport.unit_id, UnitReport.kind)
    if unit is not None:
        stmt = stmt.where(UnitReport.unit_id == unit.id)
    if kind is not None:
        stmt = stmt.where(UnitReport.kind == kind)
    return list(db.session.scalars(stmt))


def test_the_daily_report_counts_yesterday_by_hand(world, wednesday):
    assert run_job("make_unit_reports", now=THURSDAY_MIDNIGHT) == "made 5 unit reports"  # five units, no weekly
    (east,) = reports(world.units["east"])
    assert (east.kind, east.period_start.isoformat(), east.period_end.isoformat()) == ("daily", "2026-11-25",
                                                                                       "2026-11-25")
    assert east.figures == {
        "new": 3, "closed": 1, "cancelled": 1, "overdue": 1, "overdue_max_hours": 13.0, "escalated": 1,
        "rounds_scheduled": 2, "rounds_missed": 2,
        "top_points": [{"point_id": world.points["market"].id, "name": "东关早市", "problems": 2}],
        "activities": {"activities": 0, "participants": 0, "volunteers": 0, "reached": 0, "materials": 0}}
    (west,) = reports(world.units["west"])
    assert (west.figures["new"], west.figures["overdue"], west.figures["rounds_scheduled"],
            west.figures["top_points"]) == (1, 1, 0, [])
    (district,) = reports(world.units["district"])
    assert (district.figures["new"], district.figures["overdue"]) == (4, 2)


def test_each_report_is_made_once(world, wednesday):
    run_job("make_unit_reports", now=THURSDAY_MIDNIGHT)
    assert run_job("make_unit_reports", now=THURSDAY_MIDNIGHT + timedelta(minutes=10)) == "made 0 unit reports"
    assert db.session.scalar(select(func.count()).select_from(UnitReport)) == 5


def test_mondays_also_make_last_weeks_report(world, wednesday):
    run_job("make_unit_reports", now=MONDAY_MIDNIGHT)
    (weekly,) = reports(world.units["east"], "weekly")
    assert (weekly.period_start.isoformat(), weekly.period_end.isoformat()) == ("2026-11-23", "2026-11-29")
    assert (weekly.figures["new"], weekly.figures["closed"], weekly.figures["escalated"]) == (3, 1, 1)
    (daily,) = reports(world.units["east"], "daily")
    assert (daily.period_start.isoformat(), daily.figures["new"]) == ("2026-11-29", 0)


def test_the_xlsx_holds_the_figures_and_the_overdue_problems(client, world, wednesday):
    run_job("make_unit_reports", now=THURSDAY_MIDNIGHT)
    (east,) = reports(world.units["east"])
    response = client.get(f"/api/v1/reports/units/{east.id}/xlsx", headers=world.auth("supervisor"))
    assert response.status_code == 200
    assert response.content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["汇总", "高发点位", "超期问题"]
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary == {"新增问题": 3, "办结问题": 1, "撤销问题": 1, "超期未办结": 1, "最长超期（小时）": 13.0,
                       "督办升级": 1, "计划巡查轮次": 2, "漏巡轮次": 2, "活动次数": 0, "活动参与人次": 0,
                       "志愿者人次": 0, "覆盖户/人": 0, "发放资料（份）": 0}
    assert list(book["高发点位"].iter_rows(min_row=2, values_only=True)) == [("东关早市", 2)]
    overdue = list(book["超期问题"].iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in overdue] == [wednesday["waiting"].code]
    assert overdue[0][3] == "2026-11-25 11:00"  # the dispatch deadline, local


def test_reports_are_listed_within_scope(client, world, wednesday):
    run_job("make_unit_reports", now=THURSDAY_MIDNIGHT)
    listed = client.get("/api/v1/reports/units", headers=world.auth("east_supervisor")).json
    assert sorted(item["unit_id"] for item in listed["items"]) == sorted([world.units["east"].id,
                                                                          world.units["squad"].id])
    east = next(item for item in listed["items"] if item["unit_id"] == world.units["east"].id)
    assert east["xlsx_url"] == f"/api/v1/reports/units/{east['id']}/xlsx"
    assert client.get(east["xlsx_url"], headers=world.auth("east_supervisor")).status_code == 200
    filtered = client.get("/api/v1/reports/units", query_string={"unit_id": world.units["west"].id, "kind": "daily",
                                                                 "since": "2026-11-25", "until": "2026-11-25"},
                          headers=world.auth("admin")).json["items"]
    assert [(item["unit_id"], item["figures"]["new"]) for item in filtered] == [(world.units["west"].id, 1)]
    west_id = filtered[0]["id"]
    assert_problem_json(client.get(f"/api/v1/reports/units/{west_id}", headers=world.auth("east_supervisor")), 404)
    assert_problem_json(client.get(f"/api/v1/reports/units/{west_id}/xlsx",
                                   headers=world.auth("east_supervisor")), 404)
    assert_problem_json(client.get("/api/v1/reports/units", headers=world.auth("handler")), 403)
    assert_problem_json(client.get("/api/v1/reports/units", query_string={"kind": "monthly"},
                                   headers=world.auth("admin")), 422)
