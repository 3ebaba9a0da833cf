"""Work that never ends: a round started and never completed is closed as incomplete by the scheduler."""

from datetime import date, timedelta

from sqlalchemy import select

from models import PatrolRound, db
from tests.conftest import NOW
from workflow.patrols import coverage, plans, rounds

EVENING = NOW + timedelta(hours=9)  # 18:00 in Shanghai: the 晚 window (18:00-21:00, grace 15) opens


def evening_round(world, points=("market",)) -> PatrolRound:
    plans.create_plan(actor=None, now=NOW, unit_id=world.units["east"].id, name="早市", mode="fixed_post",
                      officer_ids=[world.users["officer"].id], point_ids=[world.points[p].id for p in points],
                      days="every_day", windows=[{"label": "晚", "start": "18:00", "end": "21:00"}],
                      active_from=date(2026, 11, 1))
    rounds.materialize_rounds(now=NOW)
    rounds.advance_rounds(now=EVENING)
    db.session.commit()
    return db.session.scalars(select(PatrolRound).where(PatrolRound.state == "open")).one()


def walk_one_point(world, round_) -> None:
    market = world.points["market"]
    rounds.check_in(actor=world.users["officer"], now=EVENING + timedelta(minutes=10), round_id=round_.id,
                    point_id=market.id, lat=market.lat, lng=market.lng, result="ok")
    db.session.commit()


def test_a_round_started_and_never_completed_is_closed_incomplete(world):
    round_ = evening_round(world)
    walk_one_point(world, round_)
    assert rounds.advance_rounds(now=round_.planned_end + timedelta(minutes=14))["incomplete"] == 0
    after = round_.planned_end + timedelta(minutes=15)
    assert rounds.advance_rounds(now=after)["incomplete"] == 1
    db.session.commit()
    closed = db.session.get(PatrolRound, round_.id)
    assert (closed.state, closed.completed_at, closed.missed_reason) == ("incomplete", None, None)
    assert rounds.advance_rounds(now=after + timedelta(hours=1)) == {"opened": 0, "missed": 0, "incomplete": 0}


def test_statistics_count_incomplete_apart_from_completed_and_missed_with_their_check_ins(world):
    round_ = evening_round(world)
    walk_one_point(world, round_)
    rounds.advance_rounds(now=round_.planned_end + timedelta(hours=1))
    db.session.commit()
    figures = coverage.coverage(actor=world.users["supervisor"], start=NOW, end=NOW + timedelta(days=1),
                                group_by="plan", tz="Asia/Shanghai")["totals"]
    assert (figures["incomplete"], figures["completed"], figures["completed_late"], figures["missed"],
            figures["pending"]) == (1, 0, 0, 0, 0)
    assert (figures["points_checked"], figures["points_planned"], figures["completion_rate"]) == (1, 1, 0.0)


def test_an_incomplete_round_completed_later_from_the_phone_is_completed_late(world):
    round_ = evening_round(world)
    walk_one_point(world, round_)
    rounds.advance_rounds(now=round_.planned_end + timedelta(hours=1))
    db.session.commit()
    done = rounds.complete_round(actor=world.users["officer"], now=round_.planned_end + timedelta(hours=2),
                                 round_id=round_.id)
    assert done.state == "completed_late"
