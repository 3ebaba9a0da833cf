"""Tamper evidence: every trail is a hash chain, and `verify_chains` names its first broken link."""

import hashlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from models import Problem, ProblemEvent
from models.base import db
from tests.conftest import NOW
from workflow import audit
from workflow.escalation import firing, rules
from workflow.problems import actions, reporting

GENESIS = "0" * 64


def tamper(*statements: str, **params) -> None:
    """Change problem_events behind the application's back, as someone with database access could.

    On PostgreSQL the append-only trigger refuses it, so this skips triggers for the one transaction
    (the tests connect as a superuser).
    """
    db.session.commit()
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            conn.execute(text(statement), params)


def trail(problem_id: int) -> list[ProblemEvent]:
    stmt = select(ProblemEvent).where(ProblemEvent.problem_id == problem_id).order_by(ProblemEvent.seq)
    return list(db.session.scalars(stmt))


def broken(problem_id: int | None = None) -> tuple | None:
    db.session.expire_all()
    verdict = audit.verify_chains(problem_id=problem_id)
    return None if verdict.intact else (verdict.broken.problem_id, verdict.broken.seq, verdict.broken.kind)


@pytest.fixture
def closed(world) -> Problem:
    """A problem walked to closed with a comment on the way: seven events."""
    problem = world.to_state("verifying")
    actions.apply_action(actor=world.users["officer"], now=NOW, problem_id=problem.id, action="comment",
                          expected_version=None, text="现场已清理 ✅")
    db.session.commit()
    problem = world.act(problem, "verify", by="officer", note="ok")
    return world.act(problem, "close", by="supervisor")


def test_every_event_chains_to_the_one_before_it(closed):
    events = trail(closed.id)

    assert [e.seq for e in events] == list(range(1, 8))
    assert [e.prev_hash for e in events] == [GENESIS] + [e.hash for e in events[:-1]]
    for event in events:
        content = {name: getattr(event, name) for name in audit.HASHED_COLUMNS}
        assert event.hash == hashlib.sha256(event.prev_hash.encode() + audit.canonical(content)).hexdigest()
    assert len({e.hash for e in events}) == 7


def test_the_hash_covers_exactly_the_documented_content(world):
    problem = world.report()
    event = trail(problem.id)[0]
    officer = world.users["officer"]

    expected = {"action": "report", "actor_id": officer.id, "actor_name": "officer", "actor_role": "officer",
                "at": "2026-11-25T02:00:00.000000+00:00", "problem_id": problem.id, "seq": 1,
                "fields": {"category_code": "hawker", "category_name": "流动摊贩"},
                "to_state": "reported"}
    canonical = json.dumps(expected, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert audit.canonical({name: getattr(event, name) for name in audit.HASHED_COLUMNS}) == canonical
    assert event.hash == hashlib.sha256(GENESIS.encode() + canonical).hexdigest()


def test_an_intact_ledger_verifies_and_counts_what_it_walked(world, closed):
    world.report()

    verdict = audit.verify_chains()

    assert verdict.intact and (verdict.problems, verdict.events) == (2, 8)


def test_events_written_by_the_sweep_edits_and_comments_are_chained_too(world):
    rules.create_rule(actor=None, now=NOW, name="派遣提醒", trigger="not_dispatched", level=1)
    problem = world.report()
    reporting.edit_problem(actor=world.users["officer"], now=NOW, problem_id=problem.id, expected_version=1,
                          title="早市占道经营")
    db.session.commit()
    firing.sweep(now=NOW + timedelta(hours=2))
    db.session.commit()
    actions.apply_action(actor=world.users["supervisor"], now=NOW + timedelta(hours=3), problem_id=problem.id,
                          action="comment", expected_version=None, text="督办")
    db.session.commit()

    assert [e.action for e in trail(problem.id)] == ["report", "edit", "escalate", "comment"]
    assert broken() is None


def test_an_edited_event_is_named_with_its_problem_and_seq(world, closed):
    other = world.report()
    tamper("UPDATE problem_events SET note = '已整改' WHERE problem_id = :p AND seq = 5", p=closed.id)

    assert broken() == (closed.id, 5, "edited")
    assert broken(other.id) is None


def test_a_changed_actor_or_time_is_an_edit(closed):
    tamper("UPDATE problem_events SET actor_id = NULL, actor_name = NULL, actor_role = NULL "
           "WHERE problem_id = :p AND seq = 2", p=closed.id)
    assert broken() == (closed.id, 2, "edited")


def test_a_deleted_event_in_the_middle_is_named_as_the_gap(closed):
    tamper("DELETE FROM problem_events WHERE problem_id = :p AND seq = 3", p=closed.id)
    assert broken() == (closed.id, 3, "missing")


def test_a_deleted_first_event_is_missing(closed):
    tamper("DELETE FROM problem_events WHERE problem_id = :p AND seq = 1", p=closed.id)
    assert broken() == (closed.id, 1, "missing")


def test_a_deleted_last_event_is_missing_against_the_problems_counter(closed):
    tamper("DELETE FROM problem_events WHERE problem_id = :p AND seq = 7", p=closed.id)
    assert broken() == (closed.id, 7, "missing")


def test_a_problem_whose_whole_trail_was_deleted_is_missing_its_first_event(world, closed):
    tamper("DELETE FROM problem_events WHERE problem_id = :p", p=closed.id)
    assert broken() == (closed.id, 1, "missing")


def test_two_events_that_swapped_places_are_reordered(closed):
    tamper("UPDATE problem_events SET seq = 100 WHERE problem_id = :p AND seq = 3",
           "UPDATE problem_events SET seq = 3 WHERE problem_id = :p AND seq = 4",
           "UPDATE problem_events SET seq = 4 WHERE problem_id = :p AND seq = 100", p=closed.id)
    assert broken() == (closed.id, 3, "reordered")


def test_two_events_that_swapped_contents_under_their_hashes_are_edited(closed):
    a, b = trail(closed.id)[2:4]
    tamper("UPDATE problem_events SET action = :action, from_state = :frm, to_state = :to, note = :note "
           "WHERE id = :id", action=b.action, frm=b.from_state, to=b.to_state, note=b.note, id=a.id)
    assert broken() == (closed.id, 3, "edited")


def test_an_event_rewritten_with_a_fresh_hash_breaks_the_next_link(closed):
    event = trail(closed.id)[3]
    content = {name: getattr(event, name) for name in audit.HASHED_COLUMNS} | {"note": "早已整改"}
    tamper("UPDATE problem_events SET note = :note, hash = :hash WHERE id = :id", note="早已整改",
           hash=audit.chain_hash(event.prev_hash, content), id=event.id)
    assert broken() == (closed.id, 4, "edited")


def test_a_forged_event_after_the_last_is_inserted(closed):
    last = trail(closed.id)[-1]
    forged = {name: getattr(last, name) for name in audit.HASHED_COLUMNS} | {"seq": 8, "note": "补记"}
    db.session.add(ProblemEvent(**forged, prev_hash=last.hash, hash=audit.chain_hash(last.hash, forged)))
    db.session.commit()
    assert broken() == (closed.id, 8, "inserted")


def test_the_first_broken_link_is_the_lowest_problem_then_the_lowest_seq(world, closed):
    first, second = world.to_state("assigned"), world.to_state("rectifying")
    tamper("UPDATE problem_events SET note = 'x' WHERE problem_id = :p AND seq = 3", p=second.id)
    tamper("UPDATE problem_events SET note = 'x' WHERE problem_id = :p AND seq >= 2", p=first.id)
    assert broken() == (first.id, 2, "edited")
    assert broken(second.id) == (second.id, 3, "edited")


def chain(*seqs: int, problem_id: int = 9) -> list[dict]:
    """A well-formed chain of minimal events carrying these seqs, in this order."""
    events, prev = [], GENESIS
    for seq in seqs:
        event = {"problem_id": problem_id, "seq": seq, "action": "comment", "to_state": "reported", "fields": {}}
        event |= {"prev_hash": prev, "hash": audit.chain_hash(prev, event)}
        events.append(event)
        prev = event["hash"]
    return events


@pytest.mark.parametrize(("seqs", "last_seq", "expected"), [
    ((1, 2, 3), 3, None),
    ((1, 3), 3, (2, "missing")),
    ((1, 3), 2, (2, "missing")),  # a gap before the end of the counter is the first break
    ((1, 2, 3), 2, (3, "inserted")),
    ((2, 3), 3, (1, "missing")),
    ((), 1, (1, "missing")),
    ((0, 1), 1, (0, "edited")),
])
def test_check_trail_on_hand_made_chains(seqs, last_seq, expected):
    broken = audit.check_trail(9, last_seq, chain(*seqs))
    assert (broken and (broken.seq, broken.kind)) == expected


# --- the command line --------------------------------------------------------------------------

def test_audit_verify_exits_0_on_an_intact_ledger(runner, closed):
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output == "intact: 1 problems, 7 events\n"


def test_audit_verify_exits_1_and_prints_the_first_broken_link(runner, closed):
    tamper("DELETE FROM problem_events WHERE problem_id = :p AND seq = 6", p=closed.id)

    result = runner.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert result.output.startswith(f"BROKEN: problem {closed.id} event seq 6: missing (")


def test_audit_verify_checks_one_problem_when_asked(runner, world, closed):
    other = world.report()
    tamper("UPDATE problem_events SET note = 'x' WHERE problem_id = :p AND seq = 2", p=closed.id)

    assert runner.invoke(args=["audit", "verify", "--problem", str(other.id)]).exit_code == 0
    result = runner.invoke(args=["audit", "verify", "--problem", str(closed.id)])
    assert result.exit_code == 1
    assert result.output == f"BROKEN: problem {closed.id} event seq 2: edited (its content does not match its hash)\n"


def test_audit_verify_refuses_an_unknown_problem(runner, world):
    result = runner.invoke(args=["audit", "verify", "--problem", "4242"])
    assert result.exit_code == 2
    assert "no problem 4242" in result.output


def test_a_sweep_firing_several_steps_on_several_problems_chains_each_trail_in_order(world):
    for level, name in ((1, "派遣提醒"), (2, "派遣督办"), (3, "派遣通报")):
        rules.create_rule(actor=None, now=NOW, name=name, trigger="not_dispatched", level=level)
    first, second = world.report(), world.report()
    world.act(second, "comment", by="officer", text="已到场")
    firing.sweep(now=NOW + timedelta(hours=2))
    db.session.commit()
    assert [e.action for e in trail(first.id)] == ["report", "escalate", "escalate", "escalate"]
    assert [e.action for e in trail(second.id)] == ["report", "comment", "escalate", "escalate", "escalate"]
    assert broken() is None
