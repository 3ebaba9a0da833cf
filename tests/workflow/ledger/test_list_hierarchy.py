"""A drive (五星支部创建) holds one child list per star; its progress is the sum of its stars'."""

from datetime import timedelta

import pytest

from tests.conftest import NOW
from workflow.errors import Conflict, Forbidden, Invalid
from workflow.ledger import lists

FIGURES = ("total", "open", "closed", "overdue", "closed_on_time", "closed_with_deadline")


def drive_with_stars(world, count=3):
    boss, east = world.users["east_supervisor"], world.units["east"].id
    drive = lists.create_list(actor=boss, now=NOW, lead_unit_id=east, kind="campaign", name="五星支部创建")
    stars = [lists.create_list(actor=boss, now=NOW, lead_unit_id=world.units["squad"].id, kind="star",
                               name=f"第{n}星", parent_id=drive.id, unit_ids=[east], target_on=NOW.date())
             for n in range(1, count + 1)]
    return drive, stars


def test_a_drives_progress_is_the_sum_of_its_stars_even_when_items_sit_in_several(world):
    drive, stars = drive_with_stars(world)
    closed, late, cancelled = world.to_state("closed"), world.to_state("rectifying"), world.to_state("cancelled")
    verified, reported = world.to_state("verified"), world.to_state("reported")
    boss = world.users["east_supervisor"]
    placed = {stars[0]: [closed, late, reported], stars[1]: [closed, late, cancelled], stars[2]: [verified, late]}
    for star, problems in placed.items():
        lists.add_problems(actor=boss, now=NOW, list_id=star.id, problem_ids=[p.id for p in problems])
    later = NOW + timedelta(days=3)  # every open problem is past its whole-case deadline by then
    by_star = {star.id: lists.progress(star, later) for star in stars}
    whole = lists.progress(drive, later)
    for name in FIGURES:
        assert whole[name] == sum(figures[name] for figures in by_star.values()), name
    assert whole["total"] == 8 and whole["closed"] == 2 and whole["open"] == 5
    assert whole["overdue"] == sum(p.is_overdue(later) for ps in placed.values() for p in ps) == 5
    assert whole["by_state"] == {"closed": 2, "rectifying": 3, "reported": 1, "cancelled": 1, "verified": 1}
    assert whole["on_time_rate"] == 1.0 and by_star[stars[2].id]["on_time_rate"] is None


def test_the_ledger_filter_of_a_drive_lists_its_stars_problems_once(world):
    from models import Problem
    from models.base import db
    drive, stars = drive_with_stars(world, count=2)
    problem = world.to_state("reported")
    for star in stars:
        lists.add_problems(actor=world.users["east_supervisor"], now=NOW, list_id=star.id, problem_ids=[problem.id])
    found = db.session.query(Problem.id).filter(lists.in_list([drive.id])).all()
    assert found == [(problem.id,)]


def test_stars_nest_one_level_under_an_open_list_the_caller_keeps(world):
    drive, (star,) = drive_with_stars(world, count=1)
    east_boss, west_boss = world.users["east_supervisor"], world.users["west_supervisor"]
    with pytest.raises(Invalid) as nested:
        lists.create_list(actor=east_boss, now=NOW, lead_unit_id=world.units["east"].id, kind="star", name="x",
                          parent_id=star.id)
    assert "parent_id" in nested.value.errors
    with pytest.raises(Invalid):  # the west supervisor does not see the east drive
        lists.create_list(actor=west_boss, now=NOW, lead_unit_id=world.units["west"].id, kind="star", name="x",
                          parent_id=drive.id)
    with pytest.raises(Forbidden):  # a star led by another subtree
        lists.create_list(actor=east_boss, now=NOW, lead_unit_id=world.units["west"].id, kind="star", name="x",
                          parent_id=drive.id)


def test_a_drive_closes_after_its_stars(world):
    drive, (star,) = drive_with_stars(world, count=1)
    boss = world.users["east_supervisor"]
    with pytest.raises(Conflict):
        lists.close_list(actor=boss, now=NOW, list_id=drive.id)
    lists.close_list(actor=boss, now=NOW, list_id=star.id)
    assert lists.close_list(actor=boss, now=NOW, list_id=drive.id).state == "closed"
    with pytest.raises(Conflict):
        lists.create_list(actor=boss, now=NOW, lead_unit_id=world.units["east"].id, kind="star", name="晚到的星",
                          parent_id=drive.id)
