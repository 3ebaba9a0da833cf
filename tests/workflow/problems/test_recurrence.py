"""What a problem repeats (反复): linked at the report, relinked when the repeated one is cancelled or moved."""

from datetime import timedelta

from models import Problem
from models.base import db
from tests.conftest import NOW
from workflow.problems import reporting


def link(problem: Problem) -> int | None:
    db.session.expire_all()
    return db.session.get(Problem, problem.id).recurrence_of


def test_a_report_links_the_latest_earlier_problem_of_its_kind_there(world):
    old = world.report(at=NOW - timedelta(days=45))
    first = world.report(at=NOW - timedelta(days=10))
    second = world.report(at=NOW - timedelta(days=2))
    elsewhere = world.report(by="west_officer", point="night", at=NOW)
    other_kind = world.report(category="shopfront", at=NOW)
    latest = world.report(at=NOW)
    assert [link(p) for p in (old, first, second, elsewhere, other_kind, latest)] == [
        None, None, first.id, None, None, second.id]  # 35 days apart is outside the window


def test_cancelling_the_repeated_problem_relinks_what_repeated_it(world):
    first = world.report(at=NOW - timedelta(days=5))
    second = world.report(at=NOW - timedelta(days=1))
    third = world.report(at=NOW)
    world.act(second, "cancel", by="supervisor", reason="duplicate")
    assert link(third) == first.id
    world.act(db.session.get(Problem, first.id), "cancel", by="supervisor", reason="not a problem")
    assert link(third) is None


def test_moving_a_report_relinks_it_and_what_repeated_it(world):
    first = world.report(at=NOW - timedelta(days=3))
    second = world.report(at=NOW - timedelta(days=2))
    third = world.report(at=NOW)
    assert (link(second), link(third)) == (first.id, second.id)
    reporting.edit_problem(actor=world.users["officer"], now=NOW, problem_id=second.id,
                          expected_version=second.version, category_code="shopfront")
    db.session.commit()
    assert (link(second), link(third)) == (None, first.id)


def test_the_problem_shows_what_it_repeats(client, world):
    first = world.report(at=NOW - timedelta(days=1))
    second = world.report(at=NOW)
    body = client.get(f"/api/v1/problems/{second.id}", headers=world.auth("supervisor")).json
    assert (body["recurrence_of"], client.get(f"/api/v1/problems/{first.id}", headers=world.auth("supervisor"))
            .json["recurrence_of"]) == (first.id, None)
