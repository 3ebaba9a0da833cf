"""The admin trail: every change to reference data and people, one hash-chained trail for the district."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db, utcnow


class AdminTrail(db.Model):
    """The counter of the admin trail (one row, id 1): appending takes its row lock, so events are in order."""

    __tablename__ = "admin_trail"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)


class AdminEvent(db.Model):
    """Who changed which reference row or person, when, and what: the changed fields' before and after."""

    __tablename__ = "admin_events"
    __table_args__ = (UniqueConstraint("trail_id", "seq"),
                      Index("ix_admin_events_resource_resource_id_seq", "resource", "resource_id", "seq"))

    id: Mapped[int] = mapped_column(primary_key=True)
    trail_id: Mapped[int] = mapped_column(ForeignKey("admin_trail.id"))
    seq: Mapped[int] = mapped_column(Integer)
    resource: Mapped[str] = mapped_column(String(24))  # unit | user | grid | point | category | patrol_plan | ...
    resource_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(24))  # create | edit | retire | reactivate | import
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str | None] = mapped_column(String(100))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    # What changed: {field: {"before": ..., "after": ...}}; personal numbers are written "changed". Named
    # `fields` like the other trails' column, which the sealing code fills in when empty.
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
