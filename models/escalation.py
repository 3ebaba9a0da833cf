"""Escalation rules (data, not code), the firings they leave, and the notifications they send."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db, utcnow
from models.enums import DeliveryStatus


class EscalationRule(db.Model):
    __tablename__ = "escalation_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # before_due | at_due | after_due | not_dispatched | rework | recurrence | extension_pending
    trigger: Mapped[str] = mapped_column(String(20))
    stage: Mapped[str | None] = mapped_column(String(10))  # dispatch|accept|rectify|verify|whole; None: running
    fraction: Mapped[float | None]
    after_minutes: Mapped[int | None]
    threshold: Mapped[int | None]
    window_days: Mapped[int | None]
    level: Mapped[int] = mapped_column(default=1)
    notify: Mapped[list] = mapped_column(JSON, default=list)  # handler|unit_supervisors|parent_supervisors|user:<id>
    effects: Mapped[dict] = mapped_column(JSON, default=dict)  # {supervise, raise_severity, hot_days}
    categories: Mapped[list | None] = mapped_column(JSON)
    severities: Mapped[list | None] = mapped_column(JSON)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by the sweep when the rule could not run (it is skipped until edited); the error, for its keepers.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    @property
    def failing(self) -> bool:
        return self.failing_since is not None


class EscalationFiring(db.Model):
    """One step fired: at most once per (problem, rule, level, clock cycle), by this constraint."""

    __tablename__ = "escalation_firings"
    __table_args__ = (UniqueConstraint("problem_id", "rule_id", "level", "cycle"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("escalation_rules.id"))
    level: Mapped[int]
    cycle: Mapped[int]
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the instant the step was due
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the sweep's `now`


class Notification(db.Model):
    """An in-app inbox item, written in the same transaction as what caused it."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read_id", "user_id", "read_at", "id"),
                      UniqueConstraint("user_id", "dedupe_key"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    problem_id: Mapped[int | None] = mapped_column(ForeignKey("problems.id"))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_rounds.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What caused it ("problem:7:seq:4", "round:3:missed", "digest:2026-11-25"): one row per person per cause,
    # however often the cause is replayed or two schedulers tick.
    dedupe_key: Mapped[str | None] = mapped_column(String(120))


class Webhook(db.Model):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # rectify (signed JSON) | wecom | dingtalk | feishu (group-chat robots) — workflow/notifications/formats.py
    format: Mapped[str] = mapped_column(String(10), default="rectify", server_default="rectify")
    # Events of this unit's subtree only (null: every event); supervisors manage their subtree's hooks.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)


class WebhookDelivery(db.Model):
    """One outbox message to one webhook: retried with backoff, dead-lettered after the last attempt."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("webhook_id", "event_id"),
                      Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
                      Index("ix_webhook_deliveries_webhook_id_last_attempt_at", "webhook_id", "last_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    event_type: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)  # the exact bytes signed and sent, the same on every retry
    status: Mapped[str] = mapped_column(String(10), default=DeliveryStatus.PENDING)  # a DeliveryStatus
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # While a scheduler sends it: until when it holds it, and its claim (the result is recorded only under it).
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_token: Mapped[str | None] = mapped_column(String(32))
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # vendors' rate limits count these
