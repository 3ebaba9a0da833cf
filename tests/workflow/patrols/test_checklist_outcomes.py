"""Checklist items get a recorded outcome (item 10), and 回头看 carries over past missed rounds (item 9)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from models import PatrolRound, Problem, db
from tests.conftest import NOW
from workflow.errors import Invalid
from workflow.patrols import coverage, plans, rounds


def plan(world) -> int:
    made = plans.create_plan(actor=None, now=NOW, unit_id=world.units["east"].id, name="东关早市", mode="fixed_post",
                             officer_ids=[world.users["officer"].id], point_ids=[world.points["market"].id],
                             days="every_day", windows=[{"label": "晚", "start": "18:00", "end": "21:00"}],
                             active_from=date(2026, 11, 1))
    db.session.commit()
    return made.id


def evening(day: int, hour: int = 18, minute: int = 5) -> datetime:
    """`hour:minute` local (Asia/Shanghai) on 2026-12-`day`, in UTC."""
    return datetime(2026, 12, day, hour - 8, minute, tzinfo=UTC)


def round_on(day: int) -> PatrolRound:
    start = evening(day, 18, 0)
    return db.session.scalars(select(PatrolRound).where(PatrolRound.planned_start == start)).one()


def tick(at: datetime) -> None:
    rounds.materialize_rounds(now=at)
    rounds.advance_rounds(now=at)
    db.session.commit()


def test_a_listed_problem_still_there_gets_a_finding_linked_to_the_round_and_to_it(world):
    waiting = world.to_state("verifying")
    plan(world)
    tick(NOW)
    tick(NOW + timedelta(hours=8, minutes=5))  # 18:05 local: 晚 opens
    round_ = db.session.scalars(select(PatrolRound).where(PatrolRound.state == "open")).one()
    assert round_.checklist["verify_problem_ids"] == [waiting.id]
    record, created = rounds.record_outcome(actor=world.users["officer"], now=NOW + timedelta(hours=8, minutes=20),
                                            round_id=round_.id, problem_id=waiting.id, outcome="still_there",
                                            note="摊位仍在")
    db.session.commit()
    finding = db.session.get(Problem, record.finding_id)
    assert created and (record.kind, finding.round_id, finding.possible_duplicate_of) == (
        "verify", round_.id, waiting.id)
    again, created = rounds.record_outcome(actor=world.users["officer"], now=NOW + timedelta(hours=9),
                                           round_id=round_.id, problem_id=waiting.id, outcome="fixed")
    assert (created, again.id, again.outcome) == (False, record.id, "still_there")
    figures = coverage.coverage(actor=world.users["supervisor"], start=NOW, end=NOW + timedelta(days=1),
                                group_by="plan", tz="Asia/Shanghai")["totals"]
    assert (figures["items_still_there"], figures["items_fixed"], figures["items_not_seen"]) == (1, 0, 0)


def test_a_problem_not_on_the_checklist_is_refused(world):
    plan(world)
    tick(NOW)
    tick(NOW + timedelta(hours=8, minutes=5))
    round_ = db.session.scalars(select(PatrolRound).where(PatrolRound.state == "open")).one()
    stranger = world.report()
    with pytest.raises(Invalid):
        rounds.record_outcome(actor=world.users["officer"], now=NOW + timedelta(hours=8, minutes=10),
                              round_id=round_.id, problem_id=stranger.id, outcome="fixed")


def test_follow_ups_of_a_missed_round_carry_over_until_recorded(world):
    closed = world.to_state("closed")  # closed on 25 November: 回头看 on 2 December (follow_up_days 7)
    plan(world)
    tick(evening(2, 17, 0))
    tick(evening(2))
    assert round_on(2).checklist["follow_up_problem_ids"] == [closed.id]
    tick(evening(2, 21, 20))  # nobody came: missed
    tick(evening(3))
    third = round_on(3)
    assert round_on(2).state == "missed" and third.checklist["follow_up_problem_ids"] == [closed.id]
    rounds.record_outcome(actor=world.users["officer"], now=evening(3, 18, 30), round_id=third.id,
                          problem_id=closed.id, outcome="fixed")
    db.session.commit()
    tick(evening(3, 21, 20))
    tick(evening(4))
    assert round_on(4).checklist["follow_up_problem_ids"] == []
