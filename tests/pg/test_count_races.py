"""The dashboard's counts under concurrent writers and folding jobs (decision 0116): nobody waits, nothing is
lost or counted twice."""

import threading
from datetime import timedelta

from models.base import db
from tests.pg.test_races import THREADS, race
from tests.workflow.ledger.test_dashboard_counts import assert_counts_hold
from workflow.ledger.dashboard import compact_counts


def test_transitions_of_one_unit_racing_the_folding_job_leave_the_counts_exact(app, world):
    problems = [world.to_state("assigned") for _ in range(THREADS)]
    versions = {p.id: p.version for p in problems}
    stop, folds, errors = threading.Event(), [], []

    def fold():
        with app.app_context():
            while not stop.is_set():
                try:
                    folds.append(compact_counts(now=world.now))
                    db.session.commit()
                except Exception as error:  # surfaced below: folding must never fail a writer or itself
                    db.session.rollback()
                    errors.append(error)

    folder = threading.Thread(target=fold)
    folder.start()
    try:
        # Every thread moves a different problem of the same unit between the same two states: with a counter
        # row per (unit, state) they would all queue on it.
        responses = race(app, lambda c, i: c.post(
            f"/api/v1/problems/{problems[i].id}/actions", json={"action": "accept"},
            headers=world.auth("handler", **{"If-Match": f'"{versions[problems[i].id]}"'})))
    finally:
        stop.set()
        folder.join(30)
    assert [r.status_code for r in responses] == [200] * THREADS
    assert not errors and folds
    assert_counts_hold(world, world.now + timedelta(minutes=5))
    compact_counts(now=world.now)
    db.session.commit()
    assert_counts_hold(world, world.now + timedelta(minutes=5))
