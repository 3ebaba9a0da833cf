"""Patrols: plans (who walks where, when), their rounds, and the check-ins that prove a round was walked."""

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import UTCDateTime, db, utcnow
from models.enums import RoundState

# The predicate of the unique index on live rounds (an upsert must name it to find that index).
LIVE_ROUNDS = f"state != '{RoundState.CANCELLED}'"


class PatrolPlan(db.Model):
    __tablename__ = "patrol_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    mode: Mapped[str] = mapped_column(String(12))  # fixed_post | dynamic
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    point_ids: Mapped[list | None] = mapped_column(JSON)  # the ordered route, when not a whole grid
    officer_ids: Mapped[list] = mapped_column(JSON)
    # [{"label": "早", "start": "06:30", "end": "08:30", "focus_categories": [...]}, ...]
    windows: Mapped[list] = mapped_column(JSON)
    days: Mapped[str | list] = mapped_column(JSON)  # "every_day" | "workdays" | "rest_days" | ["mon", ...]
    timezone: Mapped[str] = mapped_column(String(64))
    active_from: Mapped[date] = mapped_column(Date)
    active_until: Mapped[date | None] = mapped_column(Date)
    late_grace_minutes: Mapped[int] = mapped_column(default=15)
    sample_size: Mapped[int | None]
    follow_up_days: Mapped[int] = mapped_column(default=7)
    checkin_radius_m: Mapped[int] = mapped_column(default=200)
    paused: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)  # false: retired (no rounds; kept for history)
    # Secret per plan: dynamic rounds shuffle with it, reproducible but not guessable by officers.
    seed: Mapped[str] = mapped_column(String(32))
    # Every window starting before this instant has been turned into a round (or recorded missed).
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PatrolRound(db.Model):
    __tablename__ = "patrol_rounds"
    __table_args__ = (
        # Exactly one live round per (plan, window start); cancelled rounds stay as history.
        Index("uq_patrol_rounds_live", "plan_id", "planned_start", unique=True,
              sqlite_where=text(LIVE_ROUNDS), postgresql_where=text(LIVE_ROUNDS)),
        Index("ix_patrol_rounds_state_planned_start", "state", "planned_start"),
        # An officer's rounds: officer_ids::jsonb @> '[id]' (PostgreSQL only; SQLite scans its few rounds).
        Index("ix_patrol_rounds_officer_ids", text("(officer_ids::jsonb)"), postgresql_using="gin")
        .ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("patrol_plans.id"))
    label: Mapped[str] = mapped_column(String(20))
    planned_start: Mapped[datetime] = mapped_column(UTCDateTime)
    planned_end: Mapped[datetime] = mapped_column(UTCDateTime)
    grace_minutes: Mapped[int] = mapped_column(default=15)
    state: Mapped[str] = mapped_column(String(16))  # a RoundState
    officer_ids: Mapped[list] = mapped_column(JSON)
    checklist: Mapped[dict] = mapped_column(JSON)
    focus_categories: Mapped[list] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    missed_reason: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    plan: Mapped[PatrolPlan] = relationship(lazy="joined", innerjoin=True)


class PatrolCheckin(db.Model):
    __tablename__ = "patrol_checkins"
    __table_args__ = (UniqueConstraint("officer_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("patrol_rounds.id"), index=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("points.id"))
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # the phone's clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # ours
    result: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[float] = mapped_column(Float)
    flags: Mapped[list] = mapped_column(JSON, default=list)
    client_id: Mapped[str | None] = mapped_column(String(100))


class ChecklistOutcome(db.Model):
    """What the officers found of one problem listed on a round's checklist for verification (复查) or a
    follow-up look (回头看): still there (with the finding reported for it), fixed, or not seen."""

    __tablename__ = "checklist_outcomes"
    __table_args__ = (UniqueConstraint("round_id", "problem_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("patrol_rounds.id"), index=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # verify | follow_up
    outcome: Mapped[str] = mapped_column(String(12))  # still_there | fixed | not_seen
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("problems.id"))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
