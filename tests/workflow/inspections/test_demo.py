"""The demo seed runs the gas-safety campaign over five restaurants of the food street."""

from flask import current_app
from sqlalchemy import select

from models import Party, ProblemList, User
from models.base import db
from tests.conftest import NOW
from workflow import audit, seed
from workflow.inspections import coverage, tasks


def test_the_demo_seeds_a_campaign_with_every_outcome(ctx):
    seed.seed_demo(now=NOW, timezone="Asia/Shanghai", storage=current_app.extensions["rectify_storage"])
    db.session.commit()
    supervisor = db.session.scalars(select(User).where(User.name == "王督办")).one()
    campaign = db.session.scalars(select(ProblemList).where(ProblemList.name == "冬季瓶装燃气安全专项检查")).one()
    figures = coverage.coverage(actor=supervisor, list_id=campaign.id)["totals"]
    assert figures == {"in_scope": 5, "inspected": 5, "passed": 2, "ordered": 3, "rectified": 1,
                       "reinspected_passed": 1, "outstanding": 2}
    steps = dict(db.session.execute(select(Party.name, Party.ladder_step)).tuples().all())
    assert steps["东关饺子馆"] == "case" and steps["老王烧烤"] is None
    made = tasks.plan_tasks(now=NOW)
    assert made["reinspections"] >= 1  # the fast-food restaurant's order is past its deadline
    assert audit.verify_chains().intact


def test_seeding_the_inspection_defaults_twice_adds_nothing(runner, ctx):
    first = runner.invoke(args=["seed", "inspections"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(args=["seed", "inspections"])
    assert first.output == "added 4 ladder steps, 1 inspection templates\n"
    assert again.output == "added 0 ladder steps, 0 inspection templates\n"
