"""A transition's write in one round trip on PostgreSQL: compare-and-set, sealed event, outbox message, the
inbox items it gives people, and the Idempotency-Key record of its answer.

`apply_action` (workflow/problems/actions.py) decides everything in Python — rule, guard, effect, the new
column values, the event's content, who hears of it — and hands the result here. On PostgreSQL it travels as
one statement:

    WITH moved AS (                                   -- the compare-and-set; 0 rows = someone moved it: 412
        UPDATE problems SET <changed columns>, version = version + 1, last_seq = last_seq + 1
         WHERE id = :problem_id AND version = :expected RETURNING id, version, last_seq),
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
        SELECT :topic, json_build_object('problem_id', moved.id, 'event_id', sealed.id, 'data', :data), :now
          FROM moved JOIN sealed ON true),
    told AS (                                         -- the inbox items (when someone hears of it)
        INSERT INTO notifications (user_id, type, title, body, problem_id, created_at, dedupe_key)
        SELECT told.user_id, :news_type, :news_title, :news_body, moved.id, :now,
               concat('problem:', moved.id, ':seq:', moved.last_seq)
          FROM moved JOIN unnest(:news_users) AS told(user_id) ON true
         WHERE NOT EXISTS (<an item of that user and dedupe key>)),
    kept AS (                                         -- the answer's record (with an Idempotency-Key) ...
        INSERT INTO idempotency_records (user_id, key_hash, request_hash, status, body, headers, ...)
        SELECT :record_user_id, :record_key_hash, ... FROM moved WHERE NOT EXISTS (<a record of the key>)
        RETURNING id),
    renewed AS (                                      -- ... or the key's expired record renewed
        UPDATE idempotency_records SET request_hash = :record_request_hash, ...
         WHERE user_id = :record_user_id AND key_hash = :record_key_hash AND expires_at <= :record_created_at
           AND EXISTS (SELECT FROM moved)
        RETURNING id)
    SELECT moved.version, moved.last_seq, sealed.id, coalesce(kept.id, renewed.id)
      FROM moved LEFT JOIN sealed ON true LEFT JOIN kept ON true LEFT JOIN renewed ON true

The hash is workflow/audit.py's: sha256(prev_hash || canonical(event)). Python writes the canonical JSON
with the seq left out (`:head` and `:tail` around it, `split_canonical`), because only the UPDATE knows the
seq: a comment may have taken the previous one while this request waited for the row.

That wait is also why the JOIN to the predecessor can find nothing: every statement reads one snapshot, taken
before the UPDATE waited for the row lock, so a predecessor committed by that lock's previous holder (a
comment, an upload, the sweep) is invisible to it, while the UPDATE itself re-reads the row and goes on.
Then the row, the inbox items and the record are written but no event nor message is: the next statement
(a new snapshot) reads the hash and inserts both, as SQLite does every time (`audit.insert_sealed`). The chain
stays whole either way (tests/pg/test_audit_races.py races transitions and comments on one problem).

The record is the answer, and the answer is rendered before the write: inside the write boundary
(api/write.py, `waiting.deferring`) the statement waits for the boundary's commit (`waiting.hold`), and the
answer is rendered from the row as the compare-and-set will make it — version expected + 1
(docs/decisions/0129-the-answer-rides-the-write.md). Outside it (the scheduler, the console, a test) the
statement is sent at once.

SQLite keeps the multi-statement path (it has no data-modifying CTEs, and runs one writer at a time); both
produce the same rows and the same API answers (tests/api/test_same_output_on_both_databases.py).
"""

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ARRAY, Integer, LargeBinary, String, and_, bindparam, cast, func, insert, select, true, update
from sqlalchemy.orm import aliased

from models import Notification, OutboxMessage, Problem, ProblemEvent, User
from models.base import db, dialect_name, mark_written
from models.enums import Action
from workflow import audit, idempotency, waiting
from workflow.errors import Stale
from workflow.notifications import outbox, work
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


@dataclass(frozen=True)
class Write:
    """One transition's write, decided: what the statement sends."""

    problem: Problem
    changes: dict
    content: dict  # the event's columns (seq: SEQ_MARK)
    message: Message
    data: dict  # the outbox payload's data
    news: work.News | None
    now: datetime


def write_transition(problem: Problem, actor: User | None, now: datetime, action: Action, entry: Entry,
                     message: Message, news: work.News | None = None) -> int:
    """Write the changed row (if the version still matches: else Stale), its event, its outbox message and the
    inbox items of `news`; the event's seq (inside the write boundary, which the write waits for, the seq it
    will have as a rule)."""
    if dialect_name() != "postgresql":
        event = append_event(problem, actor, now, action, entry, row=Row.COMPARE_AND_SET)
        _enqueue(problem, event.id, message.topic, message.data(problem, problem.version), now)
        if news is not None:
            work.put_news(news, problem=problem, seq=event.seq, now=now)
        return event.seq
    write = Write(problem, changed_columns(problem), event_values(problem, actor, now, action, SEQ_MARK, entry),
                  message, message.data(problem, problem.version + 1), news, now)
    if not waiting.may_wait():
        _send(write, None)
        return problem.last_seq
    expected, seq = problem.version, problem.last_seq + 1  # what the compare-and-set makes them, as a rule
    mark_written(problem, write.changes | {"version": expected + 1, "last_seq": seq})
    waiting.hold(functools.partial(_send, write, expected=expected))
    return seq


def _send(write: Write, record: dict | None, *, expected: int | None = None) -> bool:
    """Send the statement; whether `record` was stored (True without one). A held write sends it at the
    boundary's commit: its answer shows the version it `expected` + 1, and nothing in it shows the seq, which a
    comment may have taken first (the event, its message and the inbox items take theirs from the UPDATE)."""
    problem = write.problem
    expected = problem.version if expected is None else expected
    statement = _statement(tuple(sorted(write.changes)), tuple(_content_names(write.content)),
                           write.news is not None, record is not None)
    written = db.session.execute(statement, _parameters(write, expected, record)).first()
    if written is None:
        raise Stale("the problem changed while this action was applied")
    mark_written(problem, write.changes | {"version": written.version, "last_seq": written.last_seq})
    if written.event_id is None:  # the predecessor was committed after this statement's snapshot
        event = audit.insert_sealed(ProblemEvent(**write.content | {"seq": written.last_seq}))
        _enqueue(problem, event.id, write.message.topic, write.data, write.now)
    return record is None or written.record_id is not None


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


def _content_names(content: dict):
    return (name for name in content if name not in ("problem_id", "seq"))


def _parameters(write: Write, expected: int, record: dict | None) -> dict:
    head, tail = split_canonical(write.content)
    news = write.news
    return ({f"set_{name}": value for name, value in write.changes.items()}
            | {f"event_{name}": write.content[name] for name in _content_names(write.content)}
            | ({f"record_{name}": value for name, value in record.items()} if record else {})
            | ({"news_users": news.user_ids, "news_type": news.type, "news_title": news.title,
                "news_body": news.body} if news else {})
            | {"problem_id": write.problem.id, "expected": expected, "head": head, "tail": tail,
               "topic": write.message.topic, "data": write.data, "now": write.now})


@functools.cache
def _statement(changed: tuple[str, ...], content: tuple[str, ...], news: bool, record: bool):
    """The statement for a set of changed columns, built once: SQLAlchemy then reuses its compiled form."""
    moved = _moved(changed)
    sealed = _sealed(moved, content)
    parts = [_message(moved, sealed)] + ([_told(moved)] if news else [])
    columns = [moved.c.version, moved.c.last_seq, sealed.c.id.label("event_id")]
    joined = moved.outerjoin(sealed, true())
    if record:
        renewed, kept = idempotency.record_writes(gate=moved)
        columns.append(func.coalesce(kept.c.id, renewed.c.id).label("record_id"))
        joined = joined.outerjoin(kept, true()).outerjoin(renewed, true())
    return select(*columns).select_from(joined).add_cte(*parts)


def _moved(changed: tuple[str, ...]):
    problems = Problem.__table__.c
    return (update(Problem)
            .where(Problem.id == bindparam("problem_id"), Problem.version == bindparam("expected"))
            .values({name: bindparam(f"set_{name}", type_=problems[name].type) for name in changed}
                    | {"version": Problem.version + 1, "last_seq": Problem.last_seq + 1})
            .returning(Problem.id, Problem.version, Problem.last_seq)
            .cte("moved"))


def _sealed(moved, content: tuple[str, ...]):
    events = ProblemEvent.__table__.c
    prev = aliased(ProblemEvent, name="prev")
    digest = func.sha256(func.convert_to(prev.hash, "UTF8").op("||")(bindparam("head", type_=LargeBinary))
                         .op("||")(func.convert_to(cast(moved.c.last_seq, String), "UTF8"))
                         .op("||")(bindparam("tail", type_=LargeBinary)))
    return (insert(ProblemEvent)
            .from_select(["problem_id", "seq", *content, "prev_hash", "hash"],
                         select(moved.c.id, moved.c.last_seq,
                                *(bindparam(f"event_{name}", type_=events[name].type) for name in content),
                                prev.hash, func.encode(digest, "hex"))
                         .select_from(moved.join(prev, and_(prev.problem_id == moved.c.id,
                                                            prev.seq == moved.c.last_seq - 1))))
            .returning(ProblemEvent.id)
            .cte("sealed"))


def _message(moved, sealed):
    messages = OutboxMessage.__table__.c
    payload = func.json_build_object("problem_id", moved.c.id, "event_id", sealed.c.id,
                                     "data", bindparam("data", type_=messages.payload.type))
    return (insert(OutboxMessage)
            .from_select(["topic", "payload", "created_at"],
                         select(bindparam("topic", type_=String), payload,
                                bindparam("now", type_=messages.created_at.type))
                         .select_from(moved.join(sealed, true())))
            .cte("message"))


def _told(moved):
    """The inbox rows; a row of the same cause (user, dedupe key) is kept, as `work.put` keeps it.

    Written without ON CONFLICT: SQLAlchemy compiles a PostgreSQL upsert anew for every execution (its
    ON CONFLICT clause has no cache key), which cost more than the statements this one saves. NOT EXISTS reads
    the same unique index; a row of the same key can only come from this event, whose seq is new."""
    items = Notification.__table__.c
    told = (func.unnest(bindparam("news_users", type_=ARRAY(Integer))).table_valued("user_id", name="told")
            .render_derived())
    key = func.concat("problem:", moved.c.id, ":seq:", moved.c.last_seq)
    there = select(Notification.id).where(Notification.user_id == told.c.user_id, Notification.dedupe_key == key)
    rows = (select(told.c.user_id, *(bindparam(f"news_{name}", type_=items[name].type)
                                     for name in ("type", "title", "body")),
                   moved.c.id, bindparam("now", type_=items.created_at.type), key)
            .select_from(moved.join(told, true())).where(~there.exists()))
    return (insert(Notification)
            .from_select(["user_id", "type", "title", "body", "problem_id", "created_at", "dedupe_key"], rows)
            .cte("told"))
