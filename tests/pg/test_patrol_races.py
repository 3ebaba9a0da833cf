"""Patrol ticks racing each other and racing officers, for real, on PostgreSQL."""

import threading
from datetime import date, timedelta

from sqlalchemy import func, select

from models import OutboxMessage, PatrolRound, User, db
from tests.conftest import NOW
from workflow.errors import Stale
from workflow.patrols import plans, rounds


def _plan(world):
    plan = plans.create_plan(
        actor=None, now=NOW, unit_id=world.units["east"].id, name="早市", mode="fixed_post",
        officer_ids=[world.users["officer"].id], point_ids=[world.points["market"].id], days="every_day",
        windows=[{"label": "早", "start": "06:30", "end": "08:30"}, {"label": "晚", "start": "18:00", "end": "21:00"}],
        active_from=date(2026, 11, 1))
    db.session.commit()
    return plan


def _together(app, *jobs):
    barrier = threading.Barrier(len(jobs))
    errors = []

    def run(job):
        with app.app_context():
            barrier.wait()
            try:
                job()
                db.session.commit()
            except Exception as error:  # surfaced below: a race must not raise
                errors.append(error)
                db.session.rollback()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_eight_schedulers_materializing_at_once_make_each_round_once(app, world):
    _plan(world)
    assert _together(app, *[lambda: rounds.materialize_rounds(now=NOW)] * 8) == []
    starts = db.session.scalars(select(PatrolRound.planned_start)).all()
    assert len(starts) == len(set(starts)) == 4  # 晚 today, then 早 and 晚 tomorrow, 早 the day after


def test_a_late_tick_racing_an_in_window_check_in_never_leaves_a_walked_round_missed(app, world):
    _plan(world)
    rounds.materialize_rounds(now=NOW)
    rounds.advance_rounds(now=NOW + timedelta(hours=9))  # 18:00 local: 晚 opens
    db.session.commit()
    round_ = db.session.scalars(select(PatrolRound).where(PatrolRound.state == "open")).one()
    late = round_.planned_end + timedelta(minutes=30)
    walked_at = round_.planned_end - timedelta(minutes=5)
    point = world.points["market"]
    officer_id, round_id, point_id, lat, lng = world.users["officer"].id, round_.id, point.id, point.lat, point.lng

    def check_in():  # in its own thread and session, as a request would be
        rounds.check_in(actor=db.session.get(User, officer_id), now=late, round_id=round_id,
                               point_id=point_id, lat=lat, lng=lng, result="ok", at=walked_at)

    assert _together(app, lambda: rounds.advance_rounds(now=late), check_in) == []
    db.session.expire_all()
    assert db.session.get(PatrolRound, round_.id).state == "in_progress"
    missed = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                               .where(OutboxMessage.topic == "round.missed"))
    assert missed <= 1


def test_officers_completing_one_round_at_once_have_one_winner_and_the_others_get_stale(app, world):
    """Start and complete are compare-and-set (decision 0035): of eight phones completing the same round at
    once with different device times, one wins; those that read the round before the winner's commit get 412,
    those that read it after get the completed round as it is, and nobody overwrites the winner's time."""
    _plan(world)
    rounds.materialize_rounds(now=NOW)
    rounds.advance_rounds(now=NOW + timedelta(hours=9))  # 18:00 local: 晚 opens
    db.session.commit()
    round_ = db.session.scalars(select(PatrolRound).where(PatrolRound.state == "open")).one()
    officer_id, round_id, start = world.users["officer"].id, round_.id, round_.planned_start
    rounds.start_round(actor=db.session.get(User, officer_id), now=start, round_id=round_id)
    db.session.commit()
    done = {}

    def complete(minute):
        def job():  # in its own thread and session, as a request would be
            finished = rounds.complete_round(actor=db.session.get(User, officer_id), round_id=round_id,
                                             now=start + timedelta(minutes=minute))
            done[minute] = finished.completed_at
        return job

    errors = _together(app, *[complete(minute) for minute in range(10, 90, 10)])
    assert all(isinstance(error, Stale) for error in errors), errors
    assert len(done) + len(errors) == 8
    db.session.expire_all()
    assert set(done.values()) == {db.session.get(PatrolRound, round_id).completed_at}, done


def test_an_officer_starting_while_another_completes_never_reopens_the_round(app, world):
    _plan(world)
    rounds.materialize_rounds(now=NOW)
    rounds.advance_rounds(now=NOW + timedelta(hours=9))
    db.session.commit()
    round_ = db.session.scalars(select(PatrolRound).where(PatrolRound.state == "open")).one()
    officer_id, round_id, start = world.users["officer"].id, round_.id, round_.planned_start
    for _ in range(5):
        jobs = [lambda: rounds.start_round(actor=db.session.get(User, officer_id), round_id=round_id,
                                           now=start + timedelta(minutes=1))] * 4
        _together(app, *jobs)
    db.session.expire_all()
    started = db.session.get(PatrolRound, round_id)
    assert started.state == "in_progress" and started.started_at == start + timedelta(minutes=1)
