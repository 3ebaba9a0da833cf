"""Shortfalls without a place (decision 0091): a problem of a non-spatial category names a unit instead of a grid
and a point, and goes through the same closed loop and clocks.

The transition table's walks are imported from test_transitions and run here again with this module's `world`,
whose problems are all shortfalls of the east unit: every (state, action, role) triple, refused and allowed."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import Problem
from models.base import db
from tests.conftest import NOW
from tests.factories import NATURAL, World
from tests.workflow.problems.test_transitions import (  # noqa: F401  (collected again with the placeless world)
    test_a_handler_cannot_see_a_problem_not_yet_assigned_to_their_unit,
    test_a_named_role_acting_from_a_state_not_in_the_table_is_an_invalid_transition,
    test_a_named_role_in_a_named_state_moves_the_problem_to_the_table_target,
    test_a_role_the_table_never_names_for_an_action_is_forbidden,
    test_allowed_actions_lists_exactly_the_actions_that_succeed,
    test_answering_an_extension_nobody_requested_is_a_conflict,
    test_nobody_may_comment_on_a_finished_problem,
    test_someone_outside_the_problem_scope_gets_not_found,
)
from workflow import org
from workflow.errors import Forbidden, Invalid, NotFound
from workflow.problems import reporting, visibility
from workflow.scope import problem_filter


class PlacelessWorld(World):
    """The test world, but every report is a shortfall (制度未上墙) of the east unit, without a place."""

    def report(self, *, by="officer", category="charter", point=None, at=None, unit="east", **fields):
        problem, _ = reporting.report_problem(actor=self.users[by], now=at or self.now, title="制度未上墙",
                                             category_code="charter", unit_id=self.units[unit].id, **fields)
        db.session.commit()
        return problem


def add_charter(world: World) -> None:
    world.categories["charter"] = org.create_category(actor=None, now=NOW, code="charter", name="制度建设",
                                                      limits=NATURAL, spatial=False)
    db.session.commit()


@pytest.fixture
def world(ctx):
    placeless = PlacelessWorld.build(now=NOW)
    add_charter(placeless)
    return placeless


def test_a_shortfall_belongs_to_its_unit_and_has_no_place(world):
    problem = world.report()
    assert (problem.grid_id, problem.point_id, problem.lat, problem.lng, problem.address) == (None,) * 5
    assert problem.grid_unit_id == world.units["east"].id and problem.unit_id is None
    assert problem.timezone == "Asia/Shanghai" and problem.code.startswith("LY-20261125-")
    assert problem.stage == "dispatch" and problem.stage_due_at == NOW + timedelta(minutes=60)


def test_it_is_seen_by_the_units_subtree_and_its_supervisors_only(world):
    problem = world.report(unit="squad", by="east_supervisor")
    for who in ("east_supervisor", "supervisor", "officer", "admin"):
        assert visibility.get_problem(actor=world.users[who], problem_id=problem.id) == problem
    for who in ("west_supervisor", "west_officer", "handler", "sanitation_handler"):
        with pytest.raises(NotFound):
            visibility.get_problem(actor=world.users[who], problem_id=problem.id)
        assert db.session.scalars(select(Problem.id).where(problem_filter(world.users[who]))).all() == [], who


def test_only_the_units_own_people_and_those_above_report_its_shortfalls(world):
    with pytest.raises(Forbidden):
        world.report(by="west_officer")
    with pytest.raises(Forbidden):
        world.report(by="east_supervisor", unit="west")
    assert world.report(by="supervisor", unit="west").grid_unit_id == world.units["west"].id


@pytest.mark.parametrize("place", [{"point_id": 1}, {"grid_id": 1}, {"lat": 35.0, "lng": 118.0},
                                   {"address": "东关路"}, {"party_id": 1}])
def test_a_shortfall_refuses_any_place(world, place):
    if "point_id" in place:
        place = {"point_id": world.points["market"].id}
    with pytest.raises(Invalid) as refused:
        reporting.report_problem(actor=world.users["officer"], now=NOW, title="x", category_code="charter",
                                 unit_id=world.units["east"].id, **place)
    assert set(refused.value.errors) == set(place)


def test_a_shortfall_needs_its_unit_and_a_place_needs_no_unit(world):
    with pytest.raises(Invalid) as missing:
        reporting.report_problem(actor=world.users["officer"], now=NOW, title="x", category_code="charter")
    assert "unit_id" in missing.value.errors
    with pytest.raises(Invalid) as unknown:
        reporting.report_problem(actor=world.users["officer"], now=NOW, title="x", category_code="charter",
                                 unit_id=99999)
    assert "unit_id" in unknown.value.errors
    with pytest.raises(Invalid) as spatial:
        reporting.report_problem(actor=world.users["officer"], now=NOW, title="x", category_code="hawker",
                                 point_id=world.points["market"].id, unit_id=world.units["east"].id)
    assert "unit_id" in spatial.value.errors


def test_editing_a_shortfall_keeps_it_without_a_place(world):
    problem = world.report()
    for changes in ({"point_id": world.points["market"].id}, {"address": "东关路"}, {"category_code": "hawker"}):
        with pytest.raises(Invalid):
            reporting.edit_problem(actor=world.users["officer"], now=NOW, problem_id=problem.id,
                                   expected_version=problem.version, **changes)
        db.session.rollback()
    edited = reporting.edit_problem(actor=world.users["officer"], now=NOW, problem_id=problem.id,
                                    expected_version=problem.version, title="党务公开栏未更新")
    assert edited.title == "党务公开栏未更新" and edited.grid_id is None


def test_a_problem_at_a_place_cannot_become_a_shortfall(world):
    problem = World.report(world, category="hawker")
    with pytest.raises(Invalid):
        reporting.edit_problem(actor=world.users["officer"], now=NOW, problem_id=problem.id,
                               expected_version=problem.version, category_code="charter")
