"""Campaign coverage: the scope of parties, the figures per grid and per officer, and the XLSX ledger."""

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models import InspectionFinding, Problem
from models.base import db
from tests.conftest import NOW
from tests.gas import build_gas, passing, valid_code
from workflow import org
from workflow.errors import Conflict, Forbidden, Invalid
from workflow.inspections import coverage, inspections, ledger, parties
from workflow.ledger import lists


@pytest.fixture
def gas(world):
    return build_gas(world, count=4)


def figures(world, gas, who="east_supervisor") -> dict:
    db.session.expire_all()
    return coverage.coverage(actor=world.users[who], list_id=gas.campaign_id)


def party_at(world, name: str, point, **fields):
    party = parties.create_party(actor=world.users["admin"], now=NOW, name=name, point_id=point.id, **fields)
    db.session.commit()
    return party


def test_the_scope_takes_every_tag_and_the_lead_units_area_and_operating_parties_only(world, gas):
    market = world.points["market"]
    party_at(world, "无气小店", market, kind="stall")  # no bottled_gas tag
    party_at(world, "西城餐馆", world.points["night"], kind="restaurant", credit_code=valid_code("91371302MA3C0100W"),
             tags=["bottled_gas"])  # another unit's area
    closed = party_at(world, "已关停", market, kind="stall", tags=["bottled_gas"])
    parties.edit_party(actor=world.users["admin"], now=NOW, party_id=closed.id, expected_version=1, status="closed")
    db.session.commit()
    assert figures(world, gas)["totals"]["in_scope"] == 4
    coverage.set_scope(actor=world.users["east_supervisor"], now=NOW, list_id=gas.campaign_id,
                       template_code="gas_safety", tags=["bottled_gas"], kinds=["stall"])
    assert figures(world, gas)["totals"]["in_scope"] == 0


def test_the_figures_follow_each_party_and_sum_per_grid_and_per_officer(world, gas):
    north = org.create_grid(actor=None, now=NOW, name="东关第二网格", unit_id=world.units["east"].id)
    corner = org.create_point(actor=None, now=NOW, name="北街", grid_id=north.id, lat=35.07, lng=118.36)
    world.users["officer2"].grids.append(north)
    db.session.commit()
    far = party_at(world, "北街火锅", corner, kind="restaurant", credit_code=valid_code("91371302MA3C0200W"),
                   tags=["bottled_gas"])
    r = gas.restaurants
    gas.inspect(r[0], passing())                                  # passed
    gas.inspect(r[1], passing(hose_type="rubber"))                # ordered, rectified, re-inspected and passed
    gas.inspect(r[2], passing(leak_alarm="fail"))                 # ordered, still open
    gas.inspect(far, passing(cylinder_count=4), by="officer2")    # ordered by officer2 in the north grid
    problem_id = db.session.scalar(select(InspectionFinding.problem_id).where(InspectionFinding.party_id == r[1].id))
    problem = world.walk(db.session.get(Problem, problem_id),
                         ("assign", "east_supervisor", {"unit_id": world.units["squad"].id}), ("accept", "handler", {}),
                         ("submit", "handler", {"note": "换了"}), ("verify", "officer2", {"note": "好"}),
                         ("close", "east_supervisor", {}))
    assert problem.state == "closed"
    gas.inspect(r[1], passing(), at=NOW + timedelta(days=2))
    result = figures(world, gas)
    assert result["totals"] == {"in_scope": 5, "inspected": 4, "passed": 1, "ordered": 3, "rectified": 1,
                                "reinspected_passed": 1, "outstanding": 3}
    grids = {row["grid_id"]: row for row in result["by_grid"]}
    assert (grids[world.grids["east"].id]["in_scope"], grids[north.id]["ordered"]) == (4, 1)
    officers = {row["officer_id"]: row for row in result["by_officer"]}
    assert officers[world.users["officer"].id]["inspected"] == 3
    assert officers[world.users["officer2"].id]["inspected"] == 1
    assert officers[None] == {"officer_id": None, "name": None, "in_scope": 1, "inspected": 0, "passed": 0,
                              "ordered": 0, "rectified": 0, "reinspected_passed": 0, "outstanding": 1}


def test_a_scope_is_checked_and_kept_by_the_lists_supervisors(world, gas):
    supervisor = world.users["east_supervisor"]
    star = lists.create_list(actor=supervisor, now=NOW, lead_unit_id=world.units["east"].id, kind="star", name="星")
    db.session.commit()
    with pytest.raises(Conflict):
        coverage.set_scope(actor=supervisor, now=NOW, list_id=star.id, template_code="gas_safety")
    west = world.grids["west"].id  # another unit's area: its supervisors answer for it, not this campaign's
    for fields, field in (({"template_code": "nope"}, "template_code"), ({"grid_ids": [999]}, "grid_ids"),
                          ({"grid_ids": [west]}, "grid_ids"),
                          ({"kinds": ["castle"]}, "kinds")):
        with pytest.raises(Invalid) as refused:
            coverage.set_scope(actor=supervisor, now=NOW, list_id=gas.campaign_id, **({"template_code": "gas_safety"}
                                                                                      | fields))
        assert field in refused.value.errors
    with pytest.raises(Forbidden):
        coverage.get_scope(actor=world.users["officer"], list_id=gas.campaign_id)
    empty = lists.create_list(actor=supervisor, now=NOW, lead_unit_id=world.units["east"].id, kind="campaign",
                              name="未定范围")
    db.session.commit()
    with pytest.raises(Conflict):
        coverage.coverage(actor=supervisor, list_id=empty.id)


@pytest.mark.parametrize(("typed", "cell"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-1+2", "'-1+2"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("老王烧烤", "老王烧烤"), ("a\x07b", "ab"), (None, ""),
])
def test_safe_text_defuses_formulas_and_drops_what_xml_cannot_carry(typed, cell):
    assert ledger.safe_text(typed) == cell


def sheet_rows(world, gas, who: str) -> list[tuple]:
    db.session.expire_all()
    name, data = ledger.workbook(actor=world.users[who], list_id=gas.campaign_id)
    assert name.endswith(".xlsx")
    return list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))


def test_the_ledger_has_a_row_per_party_with_every_items_answer_and_the_orders(world, gas):
    r = gas.restaurants
    parties.edit_party(actor=world.users["east_supervisor"], now=NOW, party_id=r[3].id, expected_version=1,
                       name="=HYPERLINK(\"http://evil\",\"点我\")")
    db.session.commit()
    gas.inspect(r[0], passing(hose_length=3.5))
    gas.inspect(r[1], passing(hose_type="rubber"))
    header, *rows = sheet_rows(world, gas, "east_supervisor")
    assert header[:4] == ("序号", "经营主体", "类型", "统一社会信用代码") and "连接软管类型" in header
    assert header[-5:] == ("整改通知书编号", "整改期限", "复查结果", "执法阶梯", "最近检查时间")
    by_name = {row[1]: dict(zip(header, row, strict=True)) for row in rows}
    assert len(rows) == 4
    assert by_name["老王烧烤"]["连接软管长度"] == "3.5米（不合格）" and by_name["老王烧烤"]["首次检查结果"] == "需整改"
    assert by_name["川味小馆"]["连接软管类型"] == "橡胶软管（不合格）"
    assert by_name["川味小馆"]["整改通知书编号"] == "east责改字〔2026〕第0002号"
    assert by_name["川味小馆"]["执法阶梯"] == "责令限期整改"
    assert by_name["川味小馆"]["联系电话"] == "13900000002"
    assert "'=HYPERLINK(\"http://evil\",\"点我\")" in by_name  # written as text, never as a formula
    assert by_name["兰州拉面"]["首次检查结果"] == "未检查"


def test_the_ledger_masks_contacts_for_an_admin(world, gas):
    header, *rows = sheet_rows(world, gas, "admin")
    phones = [dict(zip(header, row, strict=True))["联系电话"] for row in rows]
    assert phones == ["138****0001", "139****0002", "137****0003", "136****0004"]


def test_an_earlier_inspection_synced_late_becomes_the_first_and_the_latest_order_counts(world, gas):
    party = gas.restaurants[0]
    gas.inspect(party, passing(hose_type="rubber"), at=NOW)  # ordered
    gas.inspect(party, passing(), by="officer2", at=NOW + timedelta(minutes=5))  # re-inspected: complied
    figures_now = figures(world, gas)["totals"]
    assert (figures_now["passed"], figures_now["reinspected_passed"]) == (0, 1)
    # A phone that was offline syncs an inspection made an hour before the first one: it is the first now.
    early, _ = inspections.record_inspection(
        actor=world.users["officer2"], now=NOW + timedelta(minutes=10), party_id=party.id, template_code="gas_safety",
        list_id=gas.campaign_id, at=NOW - timedelta(hours=1), results=passing(cylinder_storage="na", leak_alarm="na"))
    db.session.commit()
    assert early.first_in_list
    result = figures(world, gas)
    assert result["totals"]["passed"] == 1
    officers = {row["officer_id"]: row["inspected"] for row in result["by_officer"]}
    assert officers[world.users["officer2"].id] == 1 and world.users["officer"].id not in officers
