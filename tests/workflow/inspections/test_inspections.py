"""Recording inspections: one problem per failed item through report_problem, orders numbered per unit and
year with deadlines from the template, re-inspections, and the refusals."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from models import InspectionFinding, Problem, RectificationOrder, problem_list_items
from models.base import db
from tests.conftest import NOW
from tests.gas import build_gas, passing
from workflow import org
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.inspections import inspections, orders, parties
from workflow.problems import reporting


@pytest.fixture
def gas(world):
    return build_gas(world, count=3)


def problems_of(inspection) -> list[Problem]:
    ids = inspections.outcome_of(inspection)["problem_ids"]
    return [db.session.get(Problem, pid) for pid in ids]


def test_each_failed_item_raises_its_own_problem_with_the_templates_category_severity_and_deadline(world, gas):
    party = gas.restaurants[0]
    at = NOW - timedelta(minutes=20)  # the phone's time
    inspection = gas.inspect(party, passing(cylinder_storage="fail", hose_type="rubber"), at=at)
    basement, hose = problems_of(inspection)
    assert (basement.category.code, basement.severity, hose.severity) == ("gas_safety", "urgent", "high")
    assert basement.title == "老王烧烤：钢瓶存放位置不合格" and "整改要求" in basement.description
    assert (basement.party_id, basement.point_id, basement.reporter_id) == (party.id, party.point_id,
                                                                            world.users["officer"].id)
    assert basement.observed_at == at and basement.state == "reported"
    # Deadlines from the items: 1 working day (Thursday 17:30) and 3 (Monday 17:30), Asia/Shanghai.
    assert basement.due_at == datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    assert hose.due_at == datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    order = inspections.outcome_of(inspection)["order"]
    assert order.deadline_on.isoformat() == "2026-11-30" and [i["code"] for i in order.items] == [
        "cylinder_storage", "hose_type"]
    on_list = set(db.session.scalars(select(problem_list_items.c.problem_id)
                                     .where(problem_list_items.c.list_id == gas.campaign_id)))
    assert on_list == {basement.id, hose.id}


def test_the_orders_deadline_is_the_whole_case_deadline_and_survives_the_assignment(world, gas):
    [hose] = problems_of(gas.inspect(gas.restaurants[0], passing(hose_type="rubber")))
    assert not hose.is_overdue(datetime(2026, 11, 25, 2, 20, tzinfo=UTC))
    assigned = world.act(hose, "assign", by="east_supervisor", unit_id=world.units["squad"].id)
    assert assigned.due_at == datetime(2026, 11, 30, 9, 30, tzinfo=UTC) and assigned.whole_started_at == NOW
    assert assigned.stage == "accept"  # the stage clocks are the category's, as for any problem


def test_a_repeated_client_id_returns_the_first_inspection_and_raises_nothing_again(world, gas):
    party = gas.restaurants[0]
    first = gas.inspect(party, passing(hose_type="rubber"), client_id="phone-1")
    again = gas.inspect(party, passing(), client_id="phone-1")
    assert again.id == first.id and again.outcome == "rectify"
    assert db.session.scalar(select(db.func.count()).select_from(Problem)) == 1


def test_an_item_failing_again_while_its_problem_is_open_is_carried_by_it(world, gas):
    party = gas.restaurants[0]
    first = gas.inspect(party, passing(hose_type="rubber"))
    second = gas.inspect(party, passing(hose_type="rubber", leak_alarm="fail"), at=NOW + timedelta(hours=1))
    carried = {f.item_code: f.raised for f in db.session.scalars(
        select(InspectionFinding).where(InspectionFinding.inspection_id == second.id))}
    assert carried == {"hose_type": False, "leak_alarm": True}
    assert inspections.outcome_of(second)["problem_ids"][0] == inspections.outcome_of(first)["problem_ids"][0]


def test_order_numbers_run_per_issuing_unit_and_local_year(world, gas):
    west_party = parties.create_party(actor=world.users["admin"], now=NOW, name="西城餐馆", kind="restaurant",
                                      point_id=world.points["night"].id, credit_code="91350100M000100Y43")
    db.session.commit()
    west = gas.inspect(west_party, passing(hose_type="rubber"), by="west_officer", campaign=False)
    # New Year's Eve at 23:30 in Shanghai is still 2026; half past midnight is 2027, and the series starts again.
    eve = gas.inspect(gas.restaurants[0], passing(hose_type="rubber"), at=datetime(2026, 12, 31, 15, 30, tzinfo=UTC))
    new_year = gas.inspect(gas.restaurants[1], passing(hose_type="rubber"),
                           at=datetime(2026, 12, 31, 16, 30, tzinfo=UTC))
    eve_too = gas.inspect(gas.restaurants[2], passing(hose_type="rubber"),
                          at=datetime(2026, 12, 31, 15, 59, tzinfo=UTC))
    numbers = [inspections.outcome_of(i)["order"].number for i in (west, eve, new_year, eve_too)]
    assert numbers == [f"{world.units['west'].name}责改字〔2026〕第0001号", "east责改字〔2026〕第0001号",
                       "east责改字〔2027〕第0001号", "east责改字〔2026〕第0002号"]


def test_an_advice_item_failing_alone_is_advice_and_no_order_until_it_repeats(world, gas):
    party = gas.restaurants[0]
    first = gas.inspect(party, passing(staff_trained="fail"))
    assert first.outcome == "rectify" and inspections.outcome_of(first)["order"] is None
    assert len(problems_of(first)) == 1 and party.ladder_step == "advice"
    world.act(problems_of(first)[0], "cancel", by="east_supervisor", reason="现场已培训")
    again = gas.inspect(party, passing(staff_trained="fail"), at=NOW + timedelta(days=10))
    assert party.ladder_step == "order"  # repeated within advice's 90 days: one step up, and an order
    assert inspections.outcome_of(again)["order"] is not None


def test_a_re_inspection_failing_before_the_deadline_leaves_the_order_running(world, gas):
    party = gas.restaurants[0]
    first = gas.inspect(party, passing(hose_type="rubber"))
    order = inspections.outcome_of(first)["order"]
    early = gas.inspect(party, passing(hose_type="rubber", leak_alarm="fail"), at=NOW + timedelta(days=1))
    assert inspections.outcome_of(early)["reinspected_order_id"] == order.id
    assert inspections.outcome_of(early)["order"] is None
    db.session.refresh(order)
    assert order.state == "open" and party.ladder_step == "order" and party.proposed_step is None
    on_order = set(db.session.scalars(select(InspectionFinding.item_code).where(
        InspectionFinding.order_id == order.id)))
    assert on_order == {"hose_type", "leak_alarm"}


def test_a_re_inspection_passing_complies_the_order(world, gas):
    party = gas.restaurants[0]
    order = inspections.outcome_of(gas.inspect(party, passing(hose_type="rubber")))["order"]
    gas.inspect(party, passing(), at=NOW + timedelta(days=1))
    db.session.refresh(order)
    assert order.state == "complied" and order.closed_at == NOW + timedelta(days=1)
    assert orders.open_order(party.id) is None
    assert db.session.scalar(select(db.func.count()).select_from(RectificationOrder)) == 1


def test_who_may_inspect_and_where(world, gas):
    party = gas.restaurants[0]
    for who, error in (("handler", Forbidden), ("admin", Forbidden), ("west_officer", NotFound)):
        with pytest.raises(error):
            inspections.record_inspection(actor=world.users[who], now=NOW, party_id=party.id,
                                          template_code="gas_safety", results=passing())


def record(world, party, **options):
    return inspections.record_inspection(actor=world.users["officer"], now=NOW, party_id=party.id,
                                         template_code="gas_safety",
                                         results=passing(cylinder_storage="na", leak_alarm="na"), **options)


def test_refusals_name_the_field(world, gas):
    party = gas.restaurants[0]
    cases = [({"at": NOW + timedelta(minutes=10)}, "at"), ({"at": NOW - timedelta(days=31)}, "at"),
             ({"template_code": "nonexistent"}, "template_code"), ({"template_version": 9}, "template_code"),
             ({"list_id": 999}, "list_id"), ({"round_id": 999}, "round_id")]
    for options, field in cases:
        with pytest.raises(Invalid) as refused:
            if "template_code" in options:
                inspections.record_inspection(actor=world.users["officer"], now=NOW, party_id=party.id,
                                              results=passing(), **options)
            else:
                record(world, party, **options)
        assert field in refused.value.errors, options


def test_a_party_outside_the_campaign_scope_or_closed_is_refused(world, gas):
    stall = parties.create_party(actor=world.users["east_supervisor"], now=NOW, name="无气摊", kind="stall",
                                 point_id=world.points["market"].id)
    db.session.commit()
    with pytest.raises(Invalid) as outside:
        record(world, stall, list_id=gas.campaign_id)
    assert outside.value.errors == {"list_id": ["party not in scope"]}
    parties.edit_party(actor=world.users["east_supervisor"], now=NOW, party_id=stall.id, expected_version=1,
                       status="closed")
    db.session.commit()
    with pytest.raises(Conflict):
        record(world, stall)


def test_a_photo_serves_one_inspection_of_the_officer_who_took_it(world, gas):
    party = gas.restaurants[0]
    mine, theirs = gas.photo_ids("officer", 1), gas.photo_ids("officer2", 1)
    results = passing(leak_alarm="na")
    results[0] |= {"photo_ids": theirs}
    with pytest.raises(Invalid) as refused:
        inspections.record_inspection(actor=world.users["officer"], now=NOW, party_id=party.id,
                                      template_code="gas_safety", results=results)
    assert "photo_ids" in refused.value.errors
    db.session.rollback()
    results[0] |= {"photo_ids": mine}
    inspections.record_inspection(actor=world.users["officer"], now=NOW, party_id=party.id,
                                  template_code="gas_safety", results=results)
    db.session.commit()
    with pytest.raises(Invalid):
        inspections.record_inspection(actor=world.users["officer"], now=NOW, party_id=party.id,
                                      template_code="gas_safety", results=results)


def test_a_problem_reported_by_hand_may_name_a_party_of_its_grid(world, gas):
    party = gas.restaurants[0]
    problem, _ = reporting.report_problem(actor=world.users["officer"], now=NOW, category_code="gas_safety",
                                          title="后厨钢瓶倒放", point_id=world.points["market"].id,
                                          party_id=party.id)
    assert problem.party_id == party.id
    with pytest.raises(Invalid) as elsewhere:
        reporting.report_problem(actor=world.users["west_officer"], now=NOW, category_code="gas_safety",
                                 title="x", point_id=world.points["night"].id, party_id=party.id)
    assert list(elsewhere.value.errors) == ["party_id"]


def test_a_supervisor_of_another_unit_issues_orders_in_their_own_series(world, gas):
    squad_supervisor, _ = org.create_user(actor=None, now=NOW, name="squad_supervisor", role="supervisor",
                                          unit_id=world.units["east"].id)
    db.session.commit()
    inspection, _ = inspections.record_inspection(actor=squad_supervisor, now=NOW, party_id=gas.restaurants[1].id,
                                                  template_code="gas_safety",
                                                  results=passing(cylinder_storage="na", leak_alarm="na",
                                                                  hose_type="rubber"))
    assert inspections.outcome_of(inspection)["order"].number == "east责改字〔2026〕第0001号"
