"""A problem's trail: how an event is made, sealed into the hash chain and appended."""

from datetime import datetime

from models import Problem, ProblemEvent, User
from models.base import db
from models.enums import Action
from workflow import audit

TEXT_FIELDS = ("note", "reason", "text")  # kept as the event's note, not among its fields


def record_event(problem: Problem, actor: User | None, now: datetime, action: Action, from_state: str | None,
                 seq: int, *, fields: dict, note: str | None, stage: str | None,
                 overdue: bool | None, took: tuple[int, int] | None = None) -> ProblemEvent:
    """Append one event to a problem's trail (`actor` None: the scheduler); `took` = (natural, working)
    seconds of the stage this event ends."""
    event = new_event(problem, actor, now, action, from_state, seq, fields=fields, note=note, stage=stage,
                      overdue=overdue, took=took)
    audit.seal_event(event)  # every event goes through here or the sweep: its hash chains it to the previous one
    db.session.add(event)
    db.session.flush([event])
    return event


def new_event(problem: Problem, actor: User | None, now: datetime, action: Action, from_state: str | None,
              seq: int, *, fields: dict, note: str | None, stage: str | None, overdue: bool | None,
              took: tuple[int, int] | None = None) -> ProblemEvent:
    """An event of `problem`'s trail, not yet sealed nor added (record_event does both)."""
    return ProblemEvent(
        problem_id=problem.id, seq=seq, action=action.value, from_state=from_state,
        to_state=problem.state, note=note, fields=fields, stage=stage, stage_overdue=overdue, at=now,
        actor_id=actor.id if actor else None, actor_name=actor.name if actor else None,
        actor_role=actor.role if actor else None,
        stage_natural_s=took[0] if took else None, stage_working_s=took[1] if took else None,
    )


def event_fields(fields: dict) -> dict:
    """An action's fields as the event keeps them: datetimes as ISO text, texts left to the note."""
    return {name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in fields.items() if name not in TEXT_FIELDS}


def event_note(fields: dict) -> str | None:
    """The first text an action carries (note, reason, text) becomes the event's note."""
    return next((fields[name] for name in TEXT_FIELDS if fields.get(name)), None)
