"""Stored unit reports: the daily and weekly summary of a unit's ledger, kept as figures and as XLSX."""

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column

from models.base import UTCDateTime, db, utcnow


class UnitReport(db.Model):
    __tablename__ = "unit_reports"
    __table_args__ = (UniqueConstraint("unit_id", "kind", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    kind: Mapped[str] = mapped_column(String(8))  # daily | weekly
    # Local dates in the unit's timezone; the period is [period_start, period_end] inclusive.
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64))
    figures: Mapped[dict] = mapped_column(JSON)
    xlsx: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
