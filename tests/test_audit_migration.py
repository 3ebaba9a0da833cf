"""The hash-chain migration, on a database of its own: it chains existing events exactly as the code
chains new ones, and its downgrade takes the columns (and PostgreSQL's trigger) away again."""


from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from models import ProblemEvent, db
from tests.conftest import NOW
from tests.factories import World
from workflow import audit
from workflow.escalation import firing, rules
from workflow.problems import actions

BEFORE = "a5e1d2c3b4a5"  # the revision before the hash chain


def hashes() -> list[tuple]:
    db.session.expire_all()
    stmt = select(ProblemEvent.problem_id, ProblemEvent.seq, ProblemEvent.prev_hash, ProblemEvent.hash)
    return db.session.execute(stmt.order_by(ProblemEvent.problem_id, ProblemEvent.seq)).all()


def trigger_installed() -> bool:
    if db.engine.dialect.name != "postgresql":
        return False
    stmt = text("SELECT count(*) FROM pg_trigger WHERE tgname = 'problem_events_append_only'")
    return db.session.execute(stmt).scalar() == 1


def test_the_migration_chains_existing_events_as_the_code_does_and_downgrades_cleanly(scratch):
    upgrade(directory=scratch)
    world = World.build(now=NOW)
    db.session.commit()
    rules.create_rule(actor=None, now=NOW, name="派遣提醒", trigger="not_dispatched", level=1)
    world.to_state("closed")
    waiting = world.report()
    actions.apply_action(actor=world.users["officer"], now=NOW, problem_id=waiting.id, action="comment",
                          expected_version=None, text="摊主说明天搬走 🙏")
    firing.sweep(now=NOW.replace(hour=6))
    db.session.commit()
    written = hashes()
    assert len(written) == 9 and trigger_installed() == (db.engine.dialect.name == "postgresql")

    db.session.commit()
    downgrade(directory=scratch, revision=BEFORE)
    columns = {c["name"] for c in inspect(db.engine).get_columns("problem_events")}
    assert not {"prev_hash", "hash"} & columns
    assert not trigger_installed()

    upgrade(directory=scratch)
    assert hashes() == written
    assert audit.verify_chains().intact
    assert trigger_installed() == (db.engine.dialect.name == "postgresql")
