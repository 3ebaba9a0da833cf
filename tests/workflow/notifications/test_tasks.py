"""The to-do queue's rounds and gas-safety inspection tasks.

The problem kinds are walked in tests/api/test_work_reaches_its_person.py."""

from datetime import UTC, datetime, timedelta

from models.base import db
from schedules.jobs import run_job
from tests.conftest import NOW
from tests.gas import build_gas, passing
from tests.workflow.patrols.test_patrols import make_plan
from workflow.notifications import tasks
from workflow.patrols import rounds


def kinds(world, who: str, at: datetime) -> list[tuple]:
    return [(task.kind, task.title, task.state) for task in tasks.my_tasks(actor=world.users[who], now=at)]


def test_an_officer_sees_todays_rounds_that_are_open_or_about_to_open_and_not_the_others(world):
    make_plan(world, windows=[{"label": "早", "start": "06:30", "end": "08:30"},
                              {"label": "中", "start": "11:00", "end": "13:00"},
                              {"label": "晚", "start": "17:00", "end": "19:00"}])
    rounds.materialize_rounds(now=NOW)  # Wednesday 10:00 local: the morning window is over
    rounds.advance_rounds(now=NOW)
    db.session.commit()
    assert kinds(world, "officer", NOW) == [("round", "东关早市错时巡查 中", "scheduled")]  # opens within 2 hours
    assert kinds(world, "officer2", NOW) == []  # not on the team
    at_noon = NOW + timedelta(hours=2)
    rounds.advance_rounds(now=at_noon)
    db.session.commit()
    assert [title for _, title, _ in kinds(world, "officer", at_noon)] == ["东关早市错时巡查 中"]
    evening = NOW + timedelta(hours=6, minutes=30)  # 16:30: lunch is missed, the evening one is about to open
    rounds.advance_rounds(now=evening)
    db.session.commit()
    assert kinds(world, "officer", evening) == [("round", "东关早市错时巡查 晚", "scheduled")]
    assert tasks.summary(actor=world.users["east_supervisor"], now=evening)["by_kind"]["round"] == 0


def test_a_missed_round_tells_the_plans_supervisors_once(world):
    from models import Notification
    make_plan(world, windows=[{"label": "中", "start": "11:00", "end": "13:00"}])
    rounds.materialize_rounds(now=NOW)
    for hours in (1, 4, 5):
        rounds.advance_rounds(now=NOW + timedelta(hours=hours))
        db.session.commit()
    told = db.session.query(Notification.user_id, Notification.type).filter_by(type="round_missed").all()
    assert told == [(world.users["east_supervisor"].id, "round_missed")]


def test_gas_safety_re_inspections_are_the_officers_tasks_from_inspections_list_tasks(world):
    gas = build_gas(world, count=1)
    party = gas.restaurants[0]
    gas.inspect(party, passing(hose_type="rubber"))
    at = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    run_job("plan_inspection_tasks", now=at)
    found = tasks.my_tasks(actor=world.users["officer"], now=at, kinds=["inspection"])
    assert [(task.kind, task.party_id, task.light) for task in found] == [("inspection", party.id, None)]
    assert found[0].title.endswith("逾期复查") and found[0].due_at == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert tasks.my_tasks(actor=world.users["west_officer"], now=at, kinds=["inspection"]) == []
    assert tasks.my_tasks(actor=world.users["officer"], now=at + timedelta(days=1),
                          kinds=["inspection"])[0].light == "red"


def test_the_consoles_desk_lists_the_problem_tasks_of_the_to_do_queue_and_nothing_else(world):
    """One rule set: what waits for someone on the console's dashboard is their /me/tasks' problem tasks."""
    from workflow.ledger import dashboard
    problems = [world.to_state(state) for state in ("reported", "assigned", "rectifying", "verifying", "verified",
                                                   "suspended", "closed", "reported")]
    db.session.commit()
    at = NOW + timedelta(hours=1)
    for who in world.users:
        actor = world.users[who]
        queued = [task.problem_id for task in tasks.my_tasks(actor=actor, now=at) if task.problem_id]
        desk = [problem.id for problem, _ in dashboard.waiting_for(actor=actor, now=at, limit=100)]
        assert desk == queued, who
    supervisor = [p.id for p, _ in dashboard.waiting_for(actor=world.users["supervisor"], now=at)]
    assert supervisor and len(supervisor) < len(problems)  # some, not every open problem in the district
