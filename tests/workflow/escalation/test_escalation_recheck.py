"""A new rule makes the sweep look again only at the open problems it can apply to."""

from datetime import timedelta

from sqlalchemy import update

from models import Problem
from models.base import db
from tests.conftest import NOW
from workflow.escalation import rules


def later_checks(*problems) -> None:
    db.session.execute(update(Problem).where(Problem.id.in_([p.id for p in problems]))
                       .values(next_check_at=NOW + timedelta(days=3)))
    db.session.commit()


def next_check(problem):
    return db.session.get(Problem, problem.id).next_check_at


def test_a_rule_for_one_unit_rechecks_only_that_units_problems(world):
    east, west = world.report(), world.report(by="west_officer", point="night")
    later_checks(east, west)
    rules.create_rule(actor=None, now=NOW, name="西城到期", trigger="at_due", unit_id=world.units["west"].id)
    db.session.commit()
    assert next_check(west) == NOW
    assert next_check(east) == NOW + timedelta(days=3)


def test_a_rule_for_some_categories_rechecks_only_those(world):
    hawker, shopfront = world.report(category="hawker"), world.report(category="shopfront")
    later_checks(hawker, shopfront)
    rules.create_rule(actor=None, now=NOW, name="摊贩到期", trigger="at_due", categories=["hawker"])
    db.session.commit()
    assert (next_check(hawker), next_check(shopfront)) == (NOW, NOW + timedelta(days=3))


def test_a_global_rule_rechecks_every_open_problem(world):
    east, west = world.report(), world.report(by="west_officer", point="night")
    later_checks(east, west)
    rules.create_rule(actor=None, now=NOW, name="全区到期", trigger="at_due")
    db.session.commit()
    assert next_check(east) == next_check(west) == NOW
