"""The campaign report: one XLSX per campaign or drive, with a cover, the stars' progress, the items, the activities
and the overdue items with who owns them; dates as real date cells in local time, Chinese headers (decision 0093)."""

import io
from datetime import datetime, timedelta

from openpyxl import load_workbook

from models.base import db
from tests.api.helpers import assert_problem_json
from tests.conftest import NOW
from workflow.ledger import activities, lists


def drive(world):
    boss = world.users["east_supervisor"]
    found = lists.create_list(actor=boss, now=NOW, lead_unit_id=world.units["east"].id, kind="campaign",
                              name="五星支部创建", unit_ids=[world.units["sanitation"].id],
                              starts_on=NOW.date(), ends_on=NOW.date() + timedelta(days=30))
    stars = [lists.create_list(actor=boss, now=NOW, lead_unit_id=world.units["squad"].id, kind="star", name=name,
                               parent_id=found.id, target_on=NOW.date() + timedelta(days=20))
             for name in ("支部建设星", "=HYPERLINK(\"http://evil\")")]
    closed, late = world.to_state("closed"), world.to_state("rectifying")
    lists.add_problems(actor=boss, now=NOW, list_id=stars[0].id, problem_ids=[closed.id, late.id])
    lists.add_problems(actor=boss, now=NOW, list_id=stars[1].id, problem_ids=[late.id])
    activities.record_activity(actor=world.users["officer"], now=NOW, list_id=stars[0].id, kind="publicity",
                               starts_at=NOW - timedelta(hours=2), unit_id=world.units["east"].id, participants=30,
                               reached=200, place="=1+1 广场")
    db.session.commit()
    return found, stars, closed, late


def sheets(client, world, list_id, by="east_supervisor", now=None):
    response = client.get(f"/api/v1/problem-lists/{list_id}/report", headers=world.auth(by))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(response.data))
    return book, {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book}


def test_the_report_holds_cover_stars_items_activities_and_overdue_owners(client, world, app):
    found, stars, closed, late = drive(world)
    app.config["TEST_NOW"] = NOW + timedelta(days=3)  # the rectifying problem is past its whole-case deadline
    book, rows = sheets(client, world, found.id)
    assert list(rows) == ["封面", "分项进度", "问题清单", "活动记录", "超期问题"]
    cover = {row[0]: row[1] for row in rows["封面"]}
    assert cover["时段"] == "2026-11-25 至 2026-12-25" and cover["牵头单位"] == "east"
    assert cover["配合单位"] == "sanitation"
    headline = ("分项（星级）数", "问题总数", "已办结", "未办结", "超期未办结")
    assert [cover[name] for name in headline] == [2, 3, 1, 2, 2]
    assert (cover["活动次数"], cover["参与人次"], cover["覆盖户/人"]) == (1, 30, 200)
    assert cover["生成时间"] == datetime(2026, 11, 28, 10, 0)  # local time, a real date cell
    progress = rows["分项进度"]
    assert progress[0][:3] == ("清单", "类型", "牵头单位")
    assert [row[0] for row in progress[1:]] == ["支部建设星", "'=HYPERLINK(\"http://evil\")", "合计"]
    assert [row[6] for row in progress[1:]] == [2, 1, 3]  # the sum row is the sum of the stars
    assert progress[1][4] == datetime(2026, 12, 15)  # the deadline as a date cell
    items = rows["问题清单"]
    assert [(row[0], row[1]) for row in items[1:]] == [("支部建设星", closed.code), ("支部建设星", late.code),
                                                      ("'=HYPERLINK(\"http://evil\")", late.code)]
    assert items[1][7] == datetime(2026, 11, 25, 10, 0)  # reported at 10:00 local
    assert book["问题清单"]["H2"].number_format == "yyyy-mm-dd hh:mm"
    acts = rows["活动记录"]
    assert acts[1][1] == "宣传" and acts[1][4] == "'=1+1 广场" and acts[1][6] == 30
    assert acts[-1][0] == "合计"
    overdue = rows["超期问题"]
    assert [row[1] for row in overdue[1:]] == [late.code, late.code]
    assert overdue[1][7] == "squad" and overdue[1][8] is None  # the unit that owns it; no named handler
    assert overdue[1][6] > 0


def test_a_plain_campaign_reports_itself_and_the_report_follows_list_scope(client, world):
    found = lists.create_list(actor=world.users["supervisor"], now=NOW, lead_unit_id=world.units["district"].id,
                              kind="campaign", name="全城清洁")
    db.session.commit()
    _, rows = sheets(client, world, found.id, by="supervisor")
    assert [row[0] for row in rows["分项进度"][1:]] == ["全城清洁"]
    assert rows["活动记录"][1:] == [] and rows["超期问题"][1:] == []
    assert_problem_json(client.get(f"/api/v1/problem-lists/{found.id}/report", headers=world.auth("east_supervisor")),
                        404, "not-found")
    assert_problem_json(client.get(f"/api/v1/problem-lists/{found.id}/report", headers=world.auth("officer")),
                        403, "forbidden")
