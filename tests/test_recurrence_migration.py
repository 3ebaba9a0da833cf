"""The recurrence-link migration, on a database of its own: its backfill links existing problems exactly as the
code links new ones, and rebuilding `problems` on SQLite loses nothing that references it."""

from datetime import timedelta

from flask_migrate import downgrade, upgrade
from sqlalchemy import func, inspect, select

from models import Problem, ProblemEvent, db, problem_list_items
from tests.conftest import NOW
from tests.factories import World
from workflow.ledger import lists

BEFORE = "d7e3b5c9a2f4"  # the revision before the recurrence link


def links() -> list[tuple]:
    db.session.expire_all()
    return db.session.execute(select(Problem.id, Problem.recurrence_of, Problem.possible_duplicate_of)
                              .order_by(Problem.id)).all()


def count(table) -> int:
    return db.session.scalar(select(func.count()).select_from(table))


def test_the_backfill_links_as_the_code_does_and_the_rebuild_keeps_every_reference(scratch):
    upgrade(directory=scratch)
    world = World.build(now=NOW)
    db.session.commit()
    first = world.report(at=NOW - timedelta(days=40))
    world.report(at=NOW - timedelta(days=20))
    world.report(at=NOW)
    world.report(at=NOW)  # the same instant: the lower id is the earlier
    world.report(category="shopfront", at=NOW)
    cancelled = world.to_state("cancelled")
    campaign = lists.create_list(actor=world.users["supervisor"], now=NOW, lead_unit_id=world.units["east"].id,
                                 kind="campaign", name="全城清洁")
    lists.add_problems(actor=world.users["supervisor"], now=NOW, list_id=campaign.id,
                       problem_ids=[first.id, cancelled.id])
    db.session.commit()
    written = links()
    # All still open: none is a recurrence (decision 0034), each names the one before as a possible duplicate
    # (the cancelled one the fourth; the first, forty days earlier, too: an open problem has no window).
    assert [link for _, link, _ in written] == [None] * 6
    assert [link for _, _, link in written] == [None, 1, 2, 3, None, 4]
    events, items = count(ProblemEvent), count(problem_list_items)

    db.session.commit()
    downgrade(directory=scratch, revision=BEFORE)
    assert "recurrence_of" not in {c["name"] for c in inspect(db.engine).get_columns("problems")}
    upgrade(directory=scratch)
    assert links() == written
    assert (count(ProblemEvent), count(problem_list_items)) == (events, items)
