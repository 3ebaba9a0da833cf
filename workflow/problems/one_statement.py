"""A transition's write in one round trip on PostgreSQL: compare-and-set, sealed event and outbox message.

`apply_action` (workflow/problems/actions.py) decides everything in Python — rule, guard, effect, the new
column values, the event's content — and hands the result here. On PostgreSQL it travels as one statement:

    WITH moved AS (                                   -- the compare-and-set; 0 rows = someone moved it: 412
        UPDATE problems SET <changed columns>, version = version + 1, last_seq = last_seq + 1
         WHERE id = :id AND version = :expected RETURNING id, version, last_seq),
    sealed AS (                                       -- the event, chained onto its predecessor's hash
        INSERT INTO problem_events (problem_id, seq, <content>, prev_hash, hash)
        SELECT moved.id, moved.last_seq, <content>, prev.hash,
               encode(sha256(convert_to(prev.hash, 'UTF8') || :head || convert_to(moved.last_seq::text,
                                                                               'UTF8') || :tail), 'hex')
          FROM moved JOIN problem_events AS prev
            ON prev.problem_id = moved.id AND prev.seq = moved.last_seq - 1
        RETURNING id),
    message AS (                                      -- the outbox row, naming the event
        INSERT INTO outbox (topic, payload, created_at)
        SELECT :topic, json_build_object('problem_id', :id, 'event_id', sealed.id, 'data', :data), :now
          FROM sealed)
    SELECT moved.version, moved.last_seq, sealed.id FROM moved LEFT JOIN sealed ON true

The hash is workflow/audit.py's: sha256(prev_hash || canonical(event)). Python writes the canonical JSON
with the seq left out (`:head` and `:tail` around it, `split_canonical`), because only the UPDATE knows the
seq: a comment may have taken the previous one while this request waited for the row.

That wait is also why the JOIN to the predecessor can find nothing: every statement reads one snapshot, taken
before the UPDATE waited for the row lock, so a predecessor committed by that lock's previous holder (a
comment, an upload, the sweep) is invisible to it, while the UPDATE itself re-reads the row and goes on.
Then the row is written but no event nor message is: the next statement (a new snapshot) reads the hash and
inserts both, as SQLite does every time (`audit.insert_sealed`). The chain stays whole either way
(tests/pg/test_audit_races.py races transitions and comments on one problem).

SQLite keeps the multi-statement path (it has no data-modifying CTEs, and runs one writer at a time); both
produce the same rows and the same API answers (tests/api/test_same_output_on_both_databases.py).
"""

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import LargeBinary, String, and_, bindparam, cast, func, insert, select, true, update
from sqlalchemy.orm import aliased

from models import OutboxMessage, Problem, ProblemEvent, User
from models.base import db, dialect_name, mark_written
from models.enums import Action
from workflow import audit
from workflow.errors import Stale
from workflow.notifications import outbox
from workflow.problems.events import Entry, Row, append_event, changed_columns, event_values

SEQ_MARK = 0  # the seq written into the canonical JSON where the statement puts the real one


@dataclass(frozen=True)
class Message:
    """The outbox message that reports the event: its payload's `data` is the problem as written (as
    `outbox.problem_data` shows it) plus `extra`, beside the problem's and the event's ids."""

    topic: str
    extra: dict

    def data(self, problem: Problem, version: int) -> dict:
        return outbox.problem_data(problem) | {"version": version} | self.extra


def write_transition(problem: Problem, actor: User | None, now: datetime, action: Action, entry: Entry,
                     message: Message) -> int:
    """Write the changed row (if the version still matches: else Stale), its event and its outbox message;
    the event's seq."""
    if dialect_name() != "postgresql":
        event = append_event(problem, actor, now, action, entry, row=Row.COMPARE_AND_SET)
        _enqueue(problem, event.id, message.topic, message.data(problem, problem.version), now)
        return event.seq
    changes = changed_columns(problem)
    content = event_values(problem, actor, now, action, SEQ_MARK, entry)
    data = message.data(problem, problem.version + 1)  # what the compare-and-set makes it
    parameters = _parameters(problem, changes, content, message.topic, data, now)
    written = db.session.execute(_statement(tuple(sorted(changes))), parameters).first()
    if written is None:
        raise Stale("the problem changed while this action was applied")
    mark_written(problem, changes | {"version": written.version, "last_seq": written.last_seq})
    if written.event_id is None:  # the predecessor was committed after this statement's snapshot
        event = audit.insert_sealed(ProblemEvent(**content | {"seq": written.last_seq}))
        _enqueue(problem, event.id, message.topic, data, now)
    return written.last_seq


def _enqueue(problem: Problem, event_id: int, topic: str, data: dict, now: datetime) -> None:
    outbox.enqueue(topic=topic, now=now, payload={"problem_id": problem.id, "event_id": event_id, "data": data})


def split_canonical(content: dict) -> tuple[bytes, bytes]:
    """The canonical JSON of an event whose seq is SEQ_MARK, cut around that seq's digits.

    `"seq"` sorts after every key that may hold nested JSON (`fields`, `note`), so its last occurrence is the
    event's own; head + str(seq) + tail is canonical(event) for any seq.
    """
    document = audit.canonical(content)
    marker = b'"seq":' + str(SEQ_MARK).encode()
    head, found, tail = document.rpartition(marker)
    assert found, "the canonical form has a seq"
    return head + b'"seq":', tail


def _parameters(problem: Problem, changes: dict, content: dict, topic: str, data: dict, now: datetime) -> dict:
    head, tail = split_canonical(content)
    return ({f"set_{name}": value for name, value in changes.items()}
            | {f"event_{name}": value for name, value in content.items() if name not in ("problem_id", "seq")}
            | {"problem_id": problem.id, "expected": problem.version, "head": head, "tail": tail, "topic": topic,
               "data": data, "now": now})


@functools.cache
def _statement(changed: tuple[str, ...]):
    """The statement for a set of changed columns, built once: SQLAlchemy then reuses its compiled form."""
    problems, events, messages = Problem.__table__.c, ProblemEvent.__table__.c, OutboxMessage.__table__.c
    moved = (update(Problem)
             .where(Problem.id == bindparam("problem_id"), Problem.version == bindparam("expected"))
             .values({name: bindparam(f"set_{name}", type_=problems[name].type) for name in changed}
                     | {"version": Problem.version + 1, "last_seq": Problem.last_seq + 1})
             .returning(Problem.id, Problem.version, Problem.last_seq)
             .cte("moved"))
    prev = aliased(ProblemEvent, name="prev")
    digest = func.sha256(func.convert_to(prev.hash, "UTF8").op("||")(bindparam("head", type_=LargeBinary))
                         .op("||")(func.convert_to(cast(moved.c.last_seq, String), "UTF8"))
                         .op("||")(bindparam("tail", type_=LargeBinary)))
    content = [name for name in audit.HASHED_COLUMNS if name not in ("problem_id", "seq")]
    sealed = (insert(ProblemEvent)
              .from_select(["problem_id", "seq", *content, "prev_hash", "hash"],
                           select(moved.c.id, moved.c.last_seq,
                                  *(bindparam(f"event_{name}", type_=events[name].type) for name in content),
                                  prev.hash, func.encode(digest, "hex"))
                           .select_from(moved.join(prev, and_(prev.problem_id == moved.c.id,
                                                              prev.seq == moved.c.last_seq - 1))))
              .returning(ProblemEvent.id)
              .cte("sealed"))
    payload = func.json_build_object("problem_id", moved.c.id, "event_id", sealed.c.id,
                                     "data", bindparam("data", type_=messages.payload.type))
    queued = (insert(OutboxMessage)
              .from_select(["topic", "payload", "created_at"],
                           select(bindparam("topic", type_=String), payload,
                                  bindparam("now", type_=messages.created_at.type))
                           .select_from(moved.join(sealed, true())))
              .cte("message"))
    return (select(moved.c.version, moved.c.last_seq, sealed.c.id.label("event_id"))
            .select_from(moved.outerjoin(sealed, true()))
            .add_cte(queued))
