"""The intake migration on a database of its own: existing problems get their source from what they are."""

from datetime import timedelta

from flask_migrate import downgrade, upgrade
from sqlalchemy import select, update

from models import PatrolRound, Problem, db
from tests.conftest import NOW
from tests.factories import World
from workflow.patrols import plans

BEFORE = "9b6c2d4e1f70"  # the revision before sources


def test_a_patrol_finding_becomes_patrol_and_an_officers_report_officer(scratch):
    upgrade(directory=scratch)
    world = World.build(now=NOW)
    plan = plans.create_plan(actor=None, now=NOW, unit_id=world.units["east"].id, name="早市", mode="fixed_post",
                             days="every_day", officer_ids=[world.users["officer"].id],
                             point_ids=[world.points["market"].id],
                             windows=[{"label": "早", "start": "06:30", "end": "08:30"}])
    round_ = PatrolRound(plan_id=plan.id, label="早", planned_start=NOW, planned_end=NOW + timedelta(hours=1),
                         grace_minutes=15, state="in_progress", officer_ids=[world.users["officer"].id],
                         checklist={}, focus_categories=[], created_at=NOW, updated_at=NOW)
    db.session.add(round_)
    db.session.commit()
    own, finding = world.report(), world.report()
    db.session.execute(update(Problem).where(Problem.id == finding.id).values(round_id=round_.id))
    db.session.commit()

    downgrade(directory=scratch, revision=BEFORE)
    upgrade(directory=scratch)
    db.session.expire_all()
    sources = dict(db.session.execute(select(Problem.id, Problem.source)).tuples().all())
    assert sources == {own.id: "officer", finding.id: "patrol"}
