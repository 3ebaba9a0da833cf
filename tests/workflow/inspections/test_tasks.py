"""What inspections leave to do: a re-inspection once an order's deadline passed, a re-check ahead of a dated
item's expiry on a working day; each made once by the scheduler, done by the next inspection, and on the
checklist of the round that opens at the party's point."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from models import CalendarDay, InspectionTask, PatrolRound
from models.base import db
from schedules.jobs import run_job
from tests.conftest import NOW
from tests.gas import build_gas, passing
from workflow import calendar
from workflow.inspections import parties, tasks
from workflow.patrols import plans, rounds


@pytest.fixture
def gas(world):
    return build_gas(world, count=2)


def tick(at: datetime) -> str:
    summary = run_job("plan_inspection_tasks", now=at)
    db.session.expire_all()
    return summary


def open_tasks() -> list[InspectionTask]:
    return list(db.session.scalars(select(InspectionTask).where(InspectionTask.state == "open")
                                   .order_by(InspectionTask.id)))


def test_a_re_inspection_comes_once_the_orders_deadline_has_passed_and_only_once(world, gas):
    party = gas.restaurants[0]
    gas.inspect(party, passing(hose_type="rubber"))  # 3 working days: Monday 30 November, 17:30
    assert tick(datetime(2026, 11, 30, 9, 29, tzinfo=UTC)) == "made 0 re-inspections, 0 expiry re-checks"
    assert tick(datetime(2026, 11, 30, 9, 30, tzinfo=UTC)) == "made 1 re-inspections, 0 expiry re-checks"
    assert tick(datetime(2026, 12, 1, 9, 30, tzinfo=UTC)) == "made 0 re-inspections, 0 expiry re-checks"
    [task] = open_tasks()
    assert (task.kind, task.party_id, task.due_on.isoformat()) == ("reinspection", party.id, "2026-11-30")
    inspection = gas.inspect(party, passing(), at=datetime(2026, 12, 1, 10, tzinfo=UTC))
    db.session.refresh(task)
    assert (task.state, task.done_by_inspection_id) == ("done", inspection.id)


def test_two_schedulers_making_the_same_tasks_make_each_once(world, gas):
    gas.inspect(gas.restaurants[0], passing(hose_type="rubber"))
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert tasks.plan_tasks(now=at) == {"reinspections": 1, "rechecks": 0}
    # A second scheduler that read the same due orders before the first committed: the constraint skips them.
    rows = tasks._due_reinspections(at - timedelta(seconds=1))
    assert rows == [] or tasks._insert(rows, ["order_id"]) == 0
    duplicate = {"kind": "reinspection", "party_id": gas.restaurants[0].id, "order_id": 1,
                 "due_on": datetime(2026, 11, 30).date(), "state": "open", "created_at": at}
    assert tasks._insert([duplicate], ["order_id"]) == 0
    assert len(open_tasks()) == 1


def test_a_recheck_falls_on_the_working_day_on_or_before_thirty_days_ahead_of_expiry(world, gas):
    party = gas.restaurants[0]
    # Replaced 2025-01-05, two years: expires 2027-01-05; 30 days ahead is Sunday 6 December 2026.
    gas.inspect(party, passing(hose_replaced_on="2025-01-05"))
    assert tick(datetime(2026, 12, 4, 0, 29, tzinfo=UTC)).endswith("0 expiry re-checks")
    assert tick(datetime(2026, 12, 4, 0, 30, tzinfo=UTC)).endswith("1 expiry re-checks")  # Friday 08:30
    assert tick(datetime(2026, 12, 7, 1, 0, tzinfo=UTC)).endswith("0 expiry re-checks")
    [task] = open_tasks()
    assert (task.kind, task.item_code, task.expires_on.isoformat()) == ("recheck", "hose_replaced_on", "2027-01-05")


def test_the_working_calendar_moves_the_recheck_day(world, gas):
    # An admin makes Friday 4 December a holiday: the re-check comes on Thursday.
    calendar.set_day(db.session, day=datetime(2026, 12, 4).date(), workday=False, name="测试", now=NOW)
    db.session.commit()
    try:
        gas.inspect(gas.restaurants[0], passing(hose_replaced_on="2025-01-05"))
        assert tick(datetime(2026, 12, 3, 0, 30, tzinfo=UTC)).endswith("1 expiry re-checks")
    finally:
        db.session.query(CalendarDay).filter(CalendarDay.day == datetime(2026, 12, 4).date()).delete()
        db.session.commit()
        calendar.forget_calendar(db.session)


def test_a_newer_answer_moves_the_recheck_and_an_answer_does_the_open_one(world, gas):
    party = gas.restaurants[0]
    gas.inspect(party, passing(hose_replaced_on="2025-01-05"))
    gas.inspect(party, passing(hose_replaced_on="2026-11-20"), at=NOW + timedelta(days=1))  # replaced since
    assert tick(datetime(2026, 12, 5, tzinfo=UTC)).endswith("0 expiry re-checks")
    other = gas.restaurants[1]
    gas.inspect(other, passing(hose_replaced_on="2025-01-05"), at=NOW + timedelta(days=2))
    assert tick(datetime(2026, 12, 6, tzinfo=UTC)).endswith("1 expiry re-checks")
    gas.inspect(other, passing(hose_replaced_on="2025-01-05"), at=datetime(2026, 12, 8, 2, tzinfo=UTC))
    assert open_tasks() == []  # answered (the same date again: the expiry stands, the re-check is done)
    assert tick(datetime(2026, 12, 9, tzinfo=UTC)).endswith("0 expiry re-checks")  # and it never comes back


def test_no_recheck_for_a_closed_party(world, gas):
    party = gas.restaurants[0]
    gas.inspect(party, passing(hose_replaced_on="2025-01-05"))
    parties.edit_party(actor=world.users["east_supervisor"], now=NOW, party_id=party.id, expected_version=1,
                       status="closed")
    db.session.commit()
    assert tick(datetime(2026, 12, 5, tzinfo=UTC)).endswith("0 expiry re-checks")


def test_a_round_opening_at_the_partys_point_carries_its_open_tasks(world, gas):
    party = gas.restaurants[0]
    gas.inspect(party, passing(hose_type="rubber"))
    tick(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))
    [task] = open_tasks()
    plan = plans.create_plan(actor=None, now=NOW, unit_id=world.units["east"].id, name="东关早市", mode="fixed_post",
                             days="every_day", officer_ids=[world.users["officer"].id],
                             point_ids=[world.points["market"].id],
                             windows=[{"label": "中", "start": "11:00", "end": "13:00"}])
    round_ = PatrolRound(plan_id=plan.id, label="中", planned_start=datetime(2026, 12, 1, 3, tzinfo=UTC),
                         planned_end=datetime(2026, 12, 1, 5, tzinfo=UTC), grace_minutes=15, state="scheduled",
                         officer_ids=[world.users["officer"].id], checklist={"point_ids": []}, focus_categories=[],
                         created_at=NOW, updated_at=NOW)
    db.session.add(round_)
    db.session.commit()
    rounds.advance_rounds(now=datetime(2026, 12, 1, 3, 5, tzinfo=UTC))
    db.session.commit()
    assert round_.checklist["inspection_task_ids"] == [task.id]
