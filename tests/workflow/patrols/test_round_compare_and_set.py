"""An officer's start and complete are compare-and-set on the state they read, like the scheduler's changes:
a change that lost a race is 412 and writes nothing (decision 0035)."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from models import PatrolRound, db
from tests.conftest import NOW
from workflow.errors import Stale
from workflow.patrols import plans, rounds


def open_round(world) -> PatrolRound:
    plans.create_plan(actor=None, now=NOW, unit_id=world.units["east"].id, name="早市", mode="fixed_post",
                      officer_ids=[world.users["officer"].id, world.users["officer2"].id],
                      point_ids=[world.points["market"].id], days="every_day",
                      windows=[{"label": "晚", "start": "18:00", "end": "21:00"}], active_from=date(2026, 11, 1))
    rounds.materialize_rounds(now=NOW)
    rounds.advance_rounds(now=NOW + timedelta(hours=9))  # 18:00 local: 晚 opens
    db.session.commit()
    return db.session.scalars(select(PatrolRound).where(PatrolRound.state == "open")).one()


def behind_its_back(round_id: int, **values) -> None:
    """What another request changed after this one read the round: the row moves, the loaded object does not
    (SQLite lets one writer in at a time, so it is written on this session's connection; tests/pg races it)."""
    db.session.execute(update(PatrolRound).where(PatrolRound.id == round_id).values(**values)
                       .execution_options(synchronize_session=False))


def test_completing_a_round_someone_else_completed_meanwhile_is_stale_and_keeps_theirs(world):
    round_ = open_round(world)
    at = round_.planned_start + timedelta(minutes=30)
    rounds.start_round(actor=world.users["officer"], now=at, round_id=round_.id)
    db.session.commit()
    mine = rounds.get_round(actor=world.users["officer"], round_id=round_.id)
    theirs = at + timedelta(minutes=40)
    behind_its_back(round_.id, state="completed", completed_at=theirs)
    with pytest.raises(Stale) as refused:
        rounds.complete_round(actor=world.users["officer"], now=at + timedelta(hours=1), round_id=mine.id)
    assert refused.value.extra["state"] == "completed"
    assert db.session.get(PatrolRound, round_.id).completed_at == theirs


def test_starting_a_round_the_scheduler_cancelled_meanwhile_is_stale(world):
    round_ = open_round(world)
    mine = rounds.get_round(actor=world.users["officer"], round_id=round_.id)
    behind_its_back(round_.id, state="cancelled")
    with pytest.raises(Stale):
        rounds.start_round(actor=world.users["officer"], now=round_.planned_start + timedelta(minutes=5),
                           round_id=mine.id)
    assert db.session.get(PatrolRound, round_.id).state == "cancelled"
