"""Inspections: versioned templates, recorded inspections, what they raised, and what comes due after them."""

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db, utcnow


class InspectionTemplate(db.Model):
    """One version of a checklist. A version that an inspection used is never changed: edits make a new one."""

    __tablename__ = "inspection_templates"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    # [{"code", "label", "type": check|choice|number|date, "required", "choices"?, "min"?, "max"?,
    #   "max_age_days"?, "photo_required", "category", "severity", "rectify_days", "on_fail", ...}]
    items: Mapped[list] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Inspection(db.Model):
    __tablename__ = "inspections"
    __table_args__ = (
        UniqueConstraint("officer_id", "client_id"),
        Index("ix_inspections_list_id_party_id_at_id", "list_id", "party_id", "at", "id"),
        # One first inspection per party and campaign.
        Index("uq_inspections_first_in_list", "list_id", "party_id", unique=True,
              sqlite_where=text("first_in_list"), postgresql_where=text("first_in_list")),
        Index("ix_inspections_party_id_at", "party_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    template_id: Mapped[int] = mapped_column(ForeignKey("inspection_templates.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    client_id: Mapped[str | None] = mapped_column(String(100))
    list_id: Mapped[int | None] = mapped_column(ForeignKey("problem_lists.id"))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("patrol_rounds.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # the phone's clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)  # ours
    outcome: Mapped[str] = mapped_column(String(8))  # pass | rectify
    # The party's first inspection in the campaign (by `at`), kept on write so that coverage is a plain join.
    first_in_list: Mapped[bool] = mapped_column(default=False)
    # [{"item", "value", "note"?, "photo_ids": [...], "failed": bool}] in the template's item order
    results: Mapped[list] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)


class Reinspection(db.Model):
    """An inspection that re-inspected an order to rectify (the party had it open when it was recorded).
    A table of its own: orders name the inspection that issued them, so inspections cannot name orders."""

    __tablename__ = "reinspections"

    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("rectification_orders.id"), index=True)


class InspectionFinding(db.Model):
    """A failed item of an inspection and the rectification problem that carries it (raised for it, or one
    still open from before)."""

    __tablename__ = "inspection_findings"
    __table_args__ = (UniqueConstraint("inspection_id", "item_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"))
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    item_code: Mapped[str] = mapped_column(String(40))
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("rectification_orders.id"), index=True)
    raised: Mapped[bool]  # a new problem (False: the one already open for this item carries it on)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ItemExpiry(db.Model):
    """The latest answer to a `date` item with a maximum age, per party: when it expires and when the
    re-check before it is due."""

    __tablename__ = "item_expiries"
    __table_args__ = (Index("ix_item_expiries_recheck_at", "recheck_at"),)

    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id", ondelete="CASCADE"), primary_key=True)
    item_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"))
    value: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    recheck_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InspectionTask(db.Model):
    """Work an inspection left behind: a re-inspection once an order's deadline passed, or a re-check ahead
    of an item's expiry. The unique constraints make each exactly once, however often the scheduler ticks."""

    __tablename__ = "inspection_tasks"
    __table_args__ = (
        UniqueConstraint("order_id"),
        UniqueConstraint("party_id", "item_code", "expires_on"),
        Index("ix_inspection_tasks_state_party_id", "state", "party_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # reinspection | recheck
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("rectification_orders.id"))
    item_code: Mapped[str | None] = mapped_column(String(40))
    expires_on: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(10), default="open")  # open | done
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))


class InspectionPhoto(db.Model):
    """A photo taken for an inspection item, uploaded before the inspection that names it."""

    __tablename__ = "inspection_photos"
    __table_args__ = (UniqueConstraint("uploaded_by_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    width: Mapped[int | None]
    height: Mapped[int | None]
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    client_id: Mapped[str | None] = mapped_column(String(100))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"), index=True)
    # Or the campaign activity day that named it (the same upload serves both: decision 0092).
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_activities.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CampaignScope(db.Model):
    """Which parties a campaign (a problem list of kind campaign) covers, and with which checklist."""

    __tablename__ = "campaign_scopes"

    list_id: Mapped[int] = mapped_column(ForeignKey("problem_lists.id", ondelete="CASCADE"), primary_key=True)
    template_code: Mapped[str] = mapped_column(String(40))
    tags: Mapped[list] = mapped_column(JSON, default=list)  # every one of them
    grid_ids: Mapped[list] = mapped_column(JSON, default=list)  # any of them; empty: the lead unit's subtree
    kinds: Mapped[list] = mapped_column(JSON, default=list)  # any of them; empty: every kind
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
