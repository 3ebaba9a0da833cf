"""Orders to rectify (责令限期整改通知书), numbered per issuing unit and year."""

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db


class RectificationOrder(db.Model):
    __tablename__ = "rectification_orders"
    __table_args__ = (
        UniqueConstraint("unit_id", "year", "seq"),
        Index("ix_rectification_orders_state_deadline_at", "state", "deadline_at"),
        Index("ix_rectification_orders_list_id_party_id", "list_id", "party_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(120), unique=True)  # <prefix>〔2026〕第0012号
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    year: Mapped[int]
    seq: Mapped[int]
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    list_id: Mapped[int | None] = mapped_column(ForeignKey("problem_lists.id"))
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_on: Mapped[date] = mapped_column(Date)  # the local date written on the notice
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the end of that working day
    # [{"code", "label", "result", "requirement"}]: what the notice lists, as it was issued
    items: Mapped[list] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10), default="open")  # open | complied | failed
    # A later order of the same campaign for the same party: coverage reads each party's latest order only.
    superseded: Mapped[bool] = mapped_column(default=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))


class OrderCounter(db.Model):
    """The last order number handed out per issuing unit and year."""

    __tablename__ = "order_counters"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)
