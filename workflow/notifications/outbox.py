"""The transactional outbox: messages written in the same transaction as the change they report."""

from datetime import datetime

from sqlalchemy import insert

from models import OutboxMessage, PatrolRound, Problem
from models.base import db


def enqueue(*, topic: str, payload: dict, now: datetime) -> None:
    """Queue a message; it is delivered by a scheduled job after the transaction commits."""
    db.session.add(OutboxMessage(**message(topic=topic, payload=payload, now=now)))


def message(*, topic: str, payload: dict, now: datetime) -> dict:
    """The row `enqueue` queues, as plain columns."""
    return {"topic": topic, "payload": payload, "created_at": now}


def enqueue_many(rows: list[dict]) -> None:
    """Queue many `message` rows in one Core executemany (the escalation sweep: no ORM object per row)."""
    if rows:
        db.session.execute(insert(OutboxMessage.__table__), rows)


def problem_data(problem: Problem) -> dict:
    """The problem as GET shows it, less what depends on the caller (allowed actions, labels)."""
    names = ("id", "code", "state", "title", "description", "severity", "point_id", "grid_id", "lat", "lng",
             "address", "unit_id", "handler_id", "reporter_id", "resolved_on_site", "stage", "rework_count",
             "escalation_level", "supervised", "duplicate_of", "recurrence_of", "round_id",
             "version")
    times = ("observed_at", "reported_at", "updated_at", "closed_at", "due_at", "stage_due_at")
    data = {name: getattr(problem, name) for name in names}
    data |= {name: getattr(problem, name).isoformat() if getattr(problem, name) else None for name in times}
    return data | {"category_code": problem.category.code, "category_name": problem.category.name}


def round_data(round_: PatrolRound) -> dict:
    return {"id": round_.id, "plan_id": round_.plan_id, "label": round_.label, "state": round_.state,
            "planned_start": round_.planned_start.isoformat(), "planned_end": round_.planned_end.isoformat(),
            "officer_ids": round_.officer_ids, "missed_reason": round_.missed_reason}
