"""The dashboard's counts of open problems (decision 0116): kept by database triggers, folded by a job, and
always what counting the problems one by one with `Problem.light` says."""

from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select, update

from models import OpenProblemCount, Problem
from models.base import db
from schedules.jobs import run_job
from workflow.ledger import dashboard
from workflow.problems.lifecycle import OPEN_STATES
from workflow.scope import problem_filter

VIEWERS = ("admin", "supervisor", "east_supervisor", "west_supervisor", "officer", "west_officer", "handler",
           "sanitation_handler")


def one_by_one(actor, now) -> dict:
    """The oracle: every open problem the actor sees, its state and its light as the problem page shows it."""
    problems = db.session.scalars(select(Problem).where(problem_filter(actor), Problem.state.in_(OPEN_STATES)))
    by_state, by_light = Counter(), Counter(dict.fromkeys(("red", "yellow", "green", "none"), 0))
    for problem in problems:
        by_state[problem.state] += 1
        light = problem.light(now)
        by_light[light.value if light else "none"] += 1
    return {"by_state": dict(by_state), "by_light": dict(by_light), "open": sum(by_state.values())}


def assert_counts_hold(world, now):
    db.session.expire_all()  # other sessions (requests, threads) may have moved the problems
    for viewer in VIEWERS:
        actor = world.users[viewer]
        assert dashboard.counts(actor=actor, now=now) == one_by_one(actor, now), viewer


def a_mixed_district(world):
    """Problems in every state, in both subdistricts, one of them suspended after its deadline (frozen red)."""
    for state in ("reported", "assigned", "rectifying", "verifying", "verified", "closed", "cancelled",
                  "suspended"):
        world.to_state(state)
        world.to_state(state, category="shopfront")
    world.report(point="night", by="west_officer")
    late = world.to_state("rectifying")
    world.act(late, "suspend", by="supervisor", at=world.now + timedelta(hours=11), note="waiting for demolition")
    return late


def test_the_counts_equal_a_count_of_each_problem_as_the_clocks_run(world):
    a_mixed_district(world)
    # Before any warning, between warnings and deadlines, past them, and days later (deadlines before today).
    for hours in (0, 0.9, 1.5, 9, 11, 30, 24 * 9):
        assert_counts_hold(world, world.now + timedelta(hours=hours))


def test_every_transition_moves_the_counts_and_the_job_folds_them_to_one_row_per_key(world):
    late = a_mixed_district(world)
    world.act(late, "resume", by="supervisor", at=world.now + timedelta(hours=12))
    problem = world.to_state("verifying")
    world.act(problem, "reject", by="officer", reason="still there")
    assert_counts_hold(world, world.now + timedelta(hours=13))
    rows = db.session.scalar(select(func.count()).select_from(OpenProblemCount))
    assert "folded" in run_job("compact_counts", now=world.now + timedelta(hours=13))
    keys = db.session.execute(select(OpenProblemCount.state, OpenProblemCount.grid_id, OpenProblemCount.unit_id,
                                     OpenProblemCount.due_day, OpenProblemCount.warn_day,
                                     OpenProblemCount.frozen)).all()
    assert len(keys) == len(set(keys)) < rows
    assert db.session.scalar(select(func.count()).where(OpenProblemCount.n == 0)) == 0
    assert_counts_hold(world, world.now + timedelta(hours=13))


def test_a_write_outside_the_workflow_is_counted_too(world):
    problem = world.to_state("assigned")
    # A bulk statement (as a one-statement write path or an operator's SQL would do) moves the counts as well.
    db.session.execute(update(Problem).where(Problem.id == problem.id).values(unit_id=None, state="reported"))
    db.session.commit()
    assert_counts_hold(world, world.now)
    db.session.execute(update(Problem).where(Problem.id == problem.id).values(state="cancelled"))
    db.session.commit()
    assert_counts_hold(world, world.now)


def test_nothing_open_counts_nothing(world):
    world.to_state("closed")
    world.to_state("cancelled")
    run_job("compact_counts", now=world.now)
    assert db.session.scalar(select(func.count()).select_from(OpenProblemCount)) == 0
    empty = {"by_state": {}, "by_light": {"red": 0, "yellow": 0, "green": 0, "none": 0}, "open": 0}
    assert dashboard.counts(actor=world.users["supervisor"], now=world.now) == empty


def test_deadlines_long_past_fold_into_one_day_and_later_moves_still_add_up(world):
    late = a_mixed_district(world)
    later = world.now + timedelta(days=9)
    run_job("compact_counts", now=later)
    past = db.session.scalar(select(func.count()).where(OpenProblemCount.due_day == dashboard.PAST))
    assert past and db.session.scalar(select(func.count()).where(OpenProblemCount.due_day < later.date(),
                                                                 OpenProblemCount.due_day != dashboard.PAST)) == 0
    assert_counts_hold(world, later)
    # The trigger takes a folded problem out under its own deadline day; the sums still come out right.
    world.act(late, "resume", by="supervisor", at=later)
    for problem in db.session.scalars(select(Problem).where(Problem.state == "reported")).all():
        world.act(problem, "assign", by="supervisor", at=later, unit_id=world.units["squad"].id)
    assert_counts_hold(world, later + timedelta(hours=1))
    run_job("compact_counts", now=later + timedelta(hours=1))
    assert_counts_hold(world, later + timedelta(days=3))
