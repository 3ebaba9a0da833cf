"""The transactional outbox: messages written in the same transaction as the change they report."""

from datetime import datetime

from models import OutboxMessage
from models.base import db


def enqueue(*, topic: str, payload: dict, now: datetime) -> None:
    """Queue a message; it is delivered by a scheduled job after the transaction commits."""
    db.session.add(OutboxMessage(topic=topic, payload=payload, created_at=now))
