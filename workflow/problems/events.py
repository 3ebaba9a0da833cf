"""A problem's trail: the one way an event is appended — its seq taken, sealed into the hash chain, inserted.

`append_event` does it for one event together with the one UPDATE of the problem's row that goes with it;
`EventBatch` does it for the escalation sweep's many events in a few statements.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from sqlalchemy import insert, inspect, update

from models import Problem, ProblemEvent, User
from models.base import db, mark_written
from models.enums import Action
from workflow import audit
from workflow.errors import Stale

TEXT_FIELDS = ("note", "reason", "text")  # kept as the event's note, not among its fields


class Row(Enum):
    """How the problem's row takes the event's seq."""

    INSERTED = "inserted"  # a new problem, inserted with last_seq 1: its report is event 1, no UPDATE
    SEQ = "seq"  # nothing else of the row changes (comment, attach): bump last_seq
    COMPARE_AND_SET = "compare_and_set"  # write the changed columns if the version still matches; bump both


@dataclass(frozen=True)
class Entry:
    """What an event says besides its problem, actor, time and action."""

    from_state: str | None
    fields: dict = field(default_factory=dict)
    note: str | None = None
    stage: str | None = None
    overdue: bool | None = None
    took: tuple[int, int] | None = None  # (natural, working) seconds of the stage this event ends


def append_event(problem: Problem, actor: User | None, now: datetime, action: Action, entry: Entry, *,
                 row: Row) -> ProblemEvent:
    """Append one event to a problem's trail (`actor` None: the scheduler) with the row's UPDATE `row` says."""
    if row is Row.INSERTED:
        seq = 1
    elif row is Row.SEQ:
        seq = audit.next_seq(problem)
    else:
        seq = compare_and_set(problem)
    return audit.insert_sealed(new_event(problem, actor, now, action, seq, entry))


def compare_and_set(problem: Problem) -> int:
    """Write the changed columns only if nobody moved the row since we read it; return the event seq."""
    changes = changed_columns(problem)
    stmt = (
        update(Problem)
        .where(Problem.id == problem.id, Problem.version == problem.version)
        .values(**changes, version=Problem.version + 1, last_seq=Problem.last_seq + 1)
        .returning(Problem.version, Problem.last_seq)
        .execution_options(synchronize_session=False)
    )
    written = db.session.execute(stmt).first()
    if written is None:
        raise Stale("the problem changed while this action was applied")
    mark_written(problem, changes | {"version": written.version, "last_seq": written.last_seq})
    return written.last_seq


def changed_columns(problem: Problem) -> dict:
    """{column: new value} of what this transaction changed on the loaded row and has not written yet."""
    state = inspect(problem)
    return {attr.key: attr.value for attr in state.attrs
            if attr.key in state.mapper.column_attrs and attr.history.has_changes()}


class EventBatch:
    """Events of many problems appended together (the escalation sweep), each problem's seqs in order.

    The caller holds the problems' rows locked and writes their `last_seq` (moved on here, on the loaded
    objects) with its own UPDATE; `insert` seals every event with one read of the chain heads and inserts
    them as plain rows in one Core executemany (no ORM object per event: on PostgreSQL psycopg pipelines
    the rows through one prepared statement).
    """

    def __init__(self):
        self.rows: list[dict] = []

    def add(self, problem: Problem, actor: User | None, now: datetime, action: Action, entry: Entry) -> None:
        seq = problem.last_seq + 1
        mark_written(problem, {"last_seq": seq})
        self.rows.append(event_values(problem, actor, now, action, seq, entry))

    def insert(self) -> None:
        if not self.rows:
            return
        first: dict[int, int] = {}
        for row in self.rows:
            first.setdefault(row["problem_id"], row["seq"])
        heads = audit.heads([(problem_id, seq - 1) for problem_id, seq in first.items() if seq > 1])
        for row in self.rows:  # in order: each event chains onto the one before it
            audit.seal_row(row, heads.get(row["problem_id"], audit.GENESIS) if row["seq"] > 1 else audit.GENESIS)
            heads[row["problem_id"]] = row["hash"]
        db.session.execute(insert(ProblemEvent.__table__), self.rows)


def new_event(problem: Problem, actor: User | None, now: datetime, action: Action, seq: int,
              entry: Entry) -> ProblemEvent:
    """An event of `problem`'s trail, not yet sealed nor added."""
    return ProblemEvent(**event_values(problem, actor, now, action, seq, entry))


def event_values(problem: Problem, actor: User | None, now: datetime, action: Action, seq: int,
                 entry: Entry) -> dict:
    """The columns of an event of `problem`'s trail but its id and hashes."""
    return {
        "problem_id": problem.id, "seq": seq, "action": action.value, "from_state": entry.from_state,
        "to_state": problem.state, "note": entry.note, "fields": entry.fields or {}, "stage": entry.stage,
        "stage_overdue": entry.overdue, "at": now, "actor_id": actor.id if actor else None,
        "actor_name": actor.name if actor else None, "actor_role": actor.role if actor else None,
        "stage_natural_s": entry.took[0] if entry.took else None,
        "stage_working_s": entry.took[1] if entry.took else None,
    }


def event_fields(fields: dict) -> dict:
    """An action's fields as the event keeps them: datetimes as ISO text, texts left to the note."""
    return {name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in fields.items() if name not in TEXT_FIELDS}


def event_note(fields: dict) -> str | None:
    """The first text an action carries (note, reason, text) becomes the event's note."""
    return next((fields[name] for name in TEXT_FIELDS if fields.get(name)), None)
