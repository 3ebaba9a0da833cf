"""The daily anchor: a digest of every trail's head goes out once a local day, and recomputes later to the same
value unless a trail was rewritten — even a rewrite that the chain alone cannot see."""

import hashlib
from datetime import timedelta

from sqlalchemy import select

from models import OutboxMessage, ProblemEvent, Webhook, WebhookDelivery
from models.base import db
from schedules.jobs import run_job
from tests.conftest import NOW
from tests.workflow.test_audit import tamper
from workflow import audit
from workflow.notifications import delivery
from workflow.problems import actions


def anchors() -> list[dict]:
    stmt = select(OutboxMessage.payload).where(OutboxMessage.topic == "audit.anchor").order_by(OutboxMessage.id)
    return list(db.session.scalars(stmt))


def head(problem_id: int) -> ProblemEvent:
    stmt = select(ProblemEvent).where(ProblemEvent.problem_id == problem_id).order_by(ProblemEvent.seq.desc())
    return db.session.scalars(stmt).first()


def test_the_digest_is_the_hash_of_each_trails_head_line(world):
    first, second = world.to_state("assigned"), world.report()
    lines = "".join(f"{p.id}:{head(p.id).seq}:{head(p.id).hash}\n" for p in (first, second))
    heads = audit.heads_digest(NOW + timedelta(minutes=1))
    assert heads == {"as_of": "2026-11-25T02:01:00.000000+00:00",
                     "digest": hashlib.sha256(lines.encode()).hexdigest(), "problems": 2, "events": 3}


def test_the_anchor_goes_out_once_a_local_day(world):
    world.to_state("closed")
    said = run_job("anchor_audit", now=NOW + timedelta(hours=1))
    (anchor,) = anchors()
    assert anchor == audit.heads_digest(NOW + timedelta(minutes=50))  # the tick minus ANCHOR_LAG
    assert said.startswith(f"anchored {anchor['digest']} over 1 trails")
    assert run_job("anchor_audit", now=NOW + timedelta(hours=13)) == "anchored today already"  # 23:00 local
    run_job("anchor_audit", now=NOW + timedelta(hours=14))  # past local midnight: a new day
    assert len(anchors()) == 2


def test_later_events_do_not_change_an_earlier_digest(world):
    problem = world.to_state("rectifying")
    before = audit.heads_digest(NOW + timedelta(minutes=5))
    actions.apply_action(actor=world.users["officer"], now=NOW + timedelta(minutes=30), problem_id=problem.id,
                          action="comment", expected_version=None, text="还在")
    db.session.commit()
    assert audit.heads_digest(NOW + timedelta(minutes=5)) == before
    assert audit.heads_digest(NOW + timedelta(minutes=31))["digest"] != before["digest"]


def test_a_tail_cut_with_its_counter_verifies_but_changes_the_digest(world):
    problem = world.to_state("closed")
    anchored = audit.heads_digest(NOW + timedelta(minutes=1))
    tamper("DELETE FROM problem_events WHERE problem_id = :pid AND seq = :seq",
           "UPDATE problems SET last_seq = last_seq - 1 WHERE id = :pid", pid=problem.id, seq=problem.last_seq)
    assert audit.verify_chains().intact  # the chain alone cannot tell
    assert audit.heads_digest(NOW + timedelta(minutes=1))["digest"] != anchored["digest"]


def test_the_anchor_reaches_webhooks_that_ask_for_it(world):
    world.report()
    db.session.add(Webhook(url="https://hooks.example.com/anchor", secret="0123456789abcdef",
                           events=["audit.anchor"], active=True, created_at=NOW))
    db.session.commit()
    run_job("anchor_audit", now=NOW + timedelta(hours=1))
    delivery.fan_out(now=NOW + timedelta(hours=1))
    db.session.commit()
    (sent,) = db.session.scalars(select(WebhookDelivery)).all()
    assert sent.event_type == "audit.anchor" and anchors()[0]["digest"] in sent.body


def test_audit_digest_recomputes_an_anchor_from_the_command_line(runner, world):
    world.report()
    heads = audit.heads_digest(NOW + timedelta(minutes=1))
    db.session.commit()
    result = runner.invoke(args=["audit", "digest", "--as-of", "2026-11-25T10:01:00+08:00"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{heads['digest']} over 1 trails, 1 events")
    assert runner.invoke(args=["audit", "digest", "--as-of", "yesterday"]).exit_code == 2
