"""反弹 and duplicates: a report names the problem it repeats only when that one was fixed (verified or closed)
before it, and an earlier one still open as its possible duplicate; both relink when the named one is
cancelled or moved (decision 0034)."""

from datetime import timedelta

from models import Problem
from models.base import db
from tests.conftest import NOW
from workflow.problems import reporting


def links(problem: Problem) -> tuple[int | None, int | None]:
    db.session.expire_all()
    row = db.session.get(Problem, problem.id)
    return row.recurrence_of, row.possible_duplicate_of


def link(problem: Problem) -> int | None:
    return links(problem)[0]


def fixed(world, at, **kwargs) -> Problem:
    """A problem resolved on the spot: verified at its report."""
    return world.report(at=at, resolved_on_site=True, **kwargs)


def test_a_report_links_the_latest_earlier_fixed_problem_of_its_kind_there(world):
    old = fixed(world, NOW - timedelta(days=45))
    first = fixed(world, NOW - timedelta(days=10))
    second = fixed(world, NOW - timedelta(days=2))
    elsewhere = world.report(by="west_officer", point="night", at=NOW)
    other_kind = world.report(category="shopfront", at=NOW)
    latest = world.report(at=NOW)
    assert [link(p) for p in (old, first, second, elsewhere, other_kind, latest)] == [
        None, None, first.id, None, None, second.id]  # 35 days apart is outside the window


def test_a_second_report_of_an_open_problem_is_a_possible_duplicate_not_a_recurrence(world):
    first = world.report(at=NOW)
    second = world.report(at=NOW + timedelta(minutes=5))
    assert links(second) == (None, first.id)
    assert links(first) == (None, None)


def test_a_problem_fixed_only_after_the_new_report_is_not_what_it_repeats(world):
    first = world.report(at=NOW - timedelta(days=2))
    second = world.report(at=NOW - timedelta(days=1))
    world.walk(first, ("assign", "supervisor", {"unit_id": world.units["squad"].id}), ("accept", "handler", {}),
               ("submit", "handler", {"note": "done"}), ("verify", "officer", {"note": "ok"}),
               ("close", "supervisor", {}), at=NOW)
    third = world.report(at=NOW + timedelta(hours=1))
    assert links(second) == (None, first.id)
    assert links(third) == (first.id, second.id)  # fixed before it, and the second still open
    # A relink reads the trails as of each report, so it keeps the second a possible duplicate.
    world.act(db.session.get(Problem, third.id), "cancel", by="supervisor", reason="重复")
    assert links(second) == (None, first.id)


def test_a_problem_sent_back_after_verification_is_open_again(world):
    first = world.to_state("verified")
    world.act(first, "send_back", by="supervisor", at=NOW + timedelta(minutes=10), reason="照片不清")
    again = world.report(at=NOW + timedelta(minutes=20))
    assert links(again) == (None, first.id)


def test_cancelling_the_repeated_problem_relinks_what_repeated_it(world):
    first = fixed(world, NOW - timedelta(days=5))
    second = world.report(at=NOW - timedelta(days=1))
    third = world.report(at=NOW)
    assert links(third) == (first.id, second.id)
    world.act(second, "cancel", by="supervisor", reason="duplicate")
    assert links(third) == (first.id, None)


def test_moving_a_report_relinks_it_and_what_repeated_it(world):
    first = fixed(world, NOW - timedelta(days=3))
    second = world.report(at=NOW - timedelta(days=2))
    third = world.report(at=NOW)
    assert (links(second), links(third)) == ((first.id, None), (first.id, second.id))
    reporting.edit_problem(actor=world.users["officer"], now=NOW, problem_id=second.id,
                          expected_version=second.version, category_code="shopfront")
    db.session.commit()
    assert (links(second), links(third)) == ((None, None), (first.id, None))


def test_the_problem_shows_what_it_repeats_and_what_it_may_duplicate(client, world):
    first = fixed(world, NOW - timedelta(days=1))
    second = world.report(at=NOW)
    third = world.report(at=NOW + timedelta(minutes=5))
    body = {p.id: client.get(f"/api/v1/problems/{p.id}", headers=world.auth("supervisor")).json
            for p in (first, second, third)}
    assert [(body[p.id]["recurrence_of"], body[p.id]["possible_duplicate_of"]) for p in (first, second, third)] \
        == [(None, None), (first.id, None), (first.id, second.id)]
