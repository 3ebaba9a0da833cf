"""The stage-span migration (decision 0123), on a database of its own: its backfill writes, for the events already
there, exactly the spans the trigger writes for new ones, and the round trip keeps every event."""

from datetime import timedelta

from flask_migrate import downgrade, upgrade
from sqlalchemy import func, inspect, select

from models import ProblemEvent, StageSpan, db
from tests.conftest import NOW
from tests.factories import World

BEFORE = "c5d8e2a7b913"  # the revision before stage_spans


def spans() -> list[tuple]:
    db.session.expire_all()
    return db.session.execute(select(StageSpan.event_id, StageSpan.problem_id, StageSpan.reported_at,
                                     StageSpan.stage, StageSpan.natural_s, StageSpan.working_s)
                              .order_by(StageSpan.event_id)).all()


def test_the_backfill_writes_the_spans_the_trigger_writes(scratch):
    upgrade(directory=scratch)
    world = World.build(now=NOW)
    db.session.commit()
    one = world.report(at=NOW - timedelta(days=3))
    world.walk(one, ("assign", "supervisor", {"unit_id": world.units["squad"].id}), ("accept", "handler", {}),
               ("submit", "handler", {"note": "cleared"}), at=NOW - timedelta(days=2))
    two = world.report(at=NOW)
    world.act(two, "assign", by="supervisor", at=NOW + timedelta(minutes=10), unit_id=world.units["squad"].id)
    written = spans()
    assert [(problem_id, stage) for _, problem_id, _, stage, _, _ in written] == [
        (one.id, "dispatch"), (one.id, "accept"), (one.id, "rectify"), (two.id, "dispatch")]
    assert written[-1][2:] == (NOW, "dispatch", 600, 600)
    events = db.session.scalar(select(func.count()).select_from(ProblemEvent))

    db.session.commit()
    downgrade(directory=scratch, revision=BEFORE)
    assert "stage_spans" not in inspect(db.engine).get_table_names()
    upgrade(directory=scratch)
    assert spans() == written
    assert db.session.scalar(select(func.count()).select_from(ProblemEvent)) == events
