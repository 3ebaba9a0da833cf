"""The enforcement ladder: steps as data, who may take which, proposals a supervisor decides, and the
scheduler's step down after clean days (once, however often it ticks)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import LadderStep, PartyEvent
from models.base import db
from schedules.jobs import run_job
from tests.conftest import NOW
from tests.gas import build_gas, passing
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.inspections import ladder


@pytest.fixture
def gas(world):
    return build_gas(world, count=2)


def step(world, who: str, party, code: str, **fields):
    result = ladder.take_step(actor=world.users[who], now=NOW, party_id=party.id, step=code, **fields)
    db.session.commit()
    return result


def trail(party) -> list[tuple]:
    return [(e.action, e.from_step, e.to_step, e.actor_role) for e in db.session.scalars(
        select(PartyEvent).where(PartyEvent.party_id == party.id).order_by(PartyEvent.seq))][1:]


def test_the_ladder_is_data_seeded_from_the_defaults(gas):
    steps = ladder.steps()
    assert [(s.code, s.name, s.rank) for s in steps] == [("advice", "劝导", 1), ("order", "责令限期整改", 2),
                                                        ("case", "立案处罚", 3), ("watch", "重点监管", 4)]
    assert steps[2].decided_by == ["supervisor"] and steps[2].requires == ["case_number", "penalty"]


@pytest.mark.parametrize(("who", "code", "allowed"), [
    ("officer", "advice", True), ("officer", "order", True), ("officer", "case", False), ("officer", "watch", False),
    ("east_supervisor", "watch", True), ("supervisor", "order", True), ("admin", "advice", False),
])
def test_who_may_take_a_step_up(world, gas, who, code, allowed):
    party = gas.restaurants[0]
    fields = {"case_number": "案-1", "penalty": "警告"} if code == "case" else {}
    if allowed:
        assert step(world, who, party, code, **fields).ladder_step == code
    else:
        with pytest.raises(Forbidden):
            step(world, who, party, code, **fields)


def test_handlers_and_other_areas_do_not_see_the_party(world, gas):
    for who in ("handler", "west_supervisor", "west_officer"):
        with pytest.raises(NotFound):
            step(world, who, gas.restaurants[0], "advice")


def test_a_case_needs_its_number_and_penalty_and_records_them(world, gas):
    party = gas.restaurants[0]
    with pytest.raises(Invalid) as missing:
        step(world, "east_supervisor", party, "case")
    assert set(missing.value.errors) == {"case_number", "penalty"}
    step(world, "east_supervisor", party, "case", case_number="东综执罚〔2026〕7号", penalty="罚款二千元",
         penalty_amount=2000.0, note="逾期未整改")
    event = db.session.scalars(select(PartyEvent).where(PartyEvent.party_id == party.id)
                               .order_by(PartyEvent.seq.desc())).first()
    assert (event.action, event.to_step, event.actor_name, event.note) == ("step_up", "case", "east_supervisor",
                                                                           "逾期未整改")
    assert event.fields == {"rule": "decision", "case_number": "东综执罚〔2026〕7号", "penalty": "罚款二千元",
                            "penalty_amount": 2000.0}


def test_only_a_supervisor_takes_a_party_down_or_off_the_ladder(world, gas):
    party = gas.restaurants[0]
    step(world, "officer", party, "order")
    for code in ("advice", "none"):
        with pytest.raises(Forbidden):
            step(world, "officer", party, code)
    assert step(world, "east_supervisor", party, "advice").ladder_step == "advice"
    assert step(world, "east_supervisor", party, "none").ladder_step is None
    assert trail(party)[-2:] == [("step_down", "order", "advice", "supervisor"),
                                 ("step_down", "advice", None, "supervisor")]


def test_unknown_steps_and_steps_already_taken_are_refused(world, gas):
    party = gas.restaurants[0]
    with pytest.raises(Invalid):
        step(world, "east_supervisor", party, "jail")
    step(world, "officer", party, "advice")
    with pytest.raises(Conflict):
        step(world, "east_supervisor", party, "advice")


def test_a_failed_re_inspection_proposes_the_case_which_a_supervisor_may_dismiss(world, gas):
    party = gas.restaurants[0]
    gas.inspect(party, passing(leak_alarm="fail"))
    gas.inspect(party, passing(leak_alarm="fail"), at=NOW + timedelta(days=8))
    assert (party.ladder_step, party.proposed_step) == ("order", "case")
    with pytest.raises(Forbidden):
        step(world, "officer", party, "order")  # the same step: dismissing is a supervisor's call
    dismissed = step(world, "east_supervisor", party, "order", note="已当场整改，不予立案")
    assert (dismissed.ladder_step, dismissed.proposed_step) == ("order", None)
    assert trail(party)[-1] == ("dismiss", "order", "order", "supervisor")


def test_a_supervisor_inspecting_takes_no_case_by_rule_either(world, gas):
    party = gas.restaurants[0]
    gas.inspect(party, passing(leak_alarm="fail"), by="east_supervisor")
    gas.inspect(party, passing(leak_alarm="fail"), by="east_supervisor", at=NOW + timedelta(days=8))
    assert (party.ladder_step, party.proposed_step) == ("order", "case")  # a case needs its number and penalty


def relax(at) -> str:
    summary = run_job("relax_ladder", now=at)
    db.session.expire_all()
    return summary


def test_after_clean_days_the_scheduler_steps_a_party_down_once_a_step(world, gas):
    party = gas.restaurants[0]
    gas.inspect(party, passing(hose_type="rubber"))
    assert party.ladder_step == "order"
    gas.inspect(party, passing(), at=NOW + timedelta(days=2))  # the order complied
    assert relax(NOW + timedelta(days=179)) == "stepped down 0"
    assert relax(NOW + timedelta(days=180)).startswith("stepped down 1")
    assert relax(NOW + timedelta(days=181)) == "stepped down 0"  # a repeated tick does nothing
    assert party.ladder_step == "advice"
    assert relax(NOW + timedelta(days=180 + 90)).startswith("stepped down 1")
    assert party.ladder_step is None
    assert trail(party)[-2:] == [("step_down", "order", "advice", None), ("step_down", "advice", None, None)]


def test_no_step_down_while_an_order_is_open_or_after_a_recent_failure(world, gas):
    open_order, failed_lately = gas.restaurants
    gas.inspect(open_order, passing(hose_type="rubber"))
    gas.inspect(failed_lately, passing(staff_trained="fail"))
    gas.inspect(failed_lately, passing(staff_trained="fail"), at=NOW + timedelta(days=100))
    assert failed_lately.ladder_step == "advice"
    assert relax(NOW + timedelta(days=181)) == "stepped down 0"


def test_the_day_counts_are_data(world, gas):
    db.session.get(LadderStep, "order").clean_days = 10
    db.session.commit()
    party = gas.restaurants[0]
    gas.inspect(party, passing(hose_type="rubber"))
    gas.inspect(party, passing(), at=NOW + timedelta(days=2))
    assert relax(NOW + timedelta(days=10)).startswith("stepped down 1")
