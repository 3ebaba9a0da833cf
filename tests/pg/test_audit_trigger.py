"""PostgreSQL keeps problem_events append-only: a trigger refuses UPDATE, DELETE and TRUNCATE."""

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from models import db
from tests.workflow.test_audit import tamper
from workflow import audit

REFUSED = [
    "UPDATE problem_events SET note = 'rewritten' WHERE seq = 2",
    "UPDATE problem_events SET hash = hash",
    "DELETE FROM problem_events WHERE seq = 3",
    "DELETE FROM problem_events WHERE id < 0",  # even a statement that would touch nothing
    "TRUNCATE problem_events",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_changing_or_removing_events_is_refused(world, statement):
    problem = world.to_state("verifying")
    db.session.commit()

    with pytest.raises(DBAPIError) as refused, db.engine.begin() as conn:
        conn.execute(text(statement))

    assert refused.value.orig.sqlstate == "42501"  # insufficient_privilege
    assert "problem_events is append-only" in str(refused.value.orig)
    assert audit.verify_chains().intact and audit.verify_chains(problem_id=problem.id).events == 4


def test_the_workflow_still_appends(world):
    problem = world.to_state("closed")
    assert audit.verify_chains(problem_id=problem.id).events == 6


def test_only_a_superuser_can_skip_the_trigger_and_then_verify_names_the_change(world):
    problem = world.to_state("rectifying")
    tamper("UPDATE problem_events SET note = 'rewritten' WHERE problem_id = :p AND seq = 2", p=problem.id)
    broken = audit.verify_chains().broken
    assert (broken.problem_id, broken.seq, broken.kind) == (problem.id, 2, "edited")


@pytest.fixture
def app_role(app):
    """A login role with the rights the application needs, and no more (not a superuser)."""
    name = f"rectify_app_{uuid.uuid4().hex[:8]}"
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{name}" LOGIN'))
        conn.execute(text(f'GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON problem_events TO "{name}"'))
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(username=name, password=None)
    engine = create_engine(url)
    yield engine
    engine.dispose()
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text(f'DROP OWNED BY "{name}"'))
        conn.execute(text(f'DROP ROLE "{name}"'))


def test_the_applications_role_can_neither_change_events_nor_skip_the_trigger(world, app_role):
    world.to_state("assigned")
    db.session.commit()

    with pytest.raises(DBAPIError, match="append-only"), app_role.begin() as conn:
        conn.execute(text("UPDATE problem_events SET note = 'rewritten'"))
    with pytest.raises(DBAPIError, match="session_replication_role"), app_role.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
