"""The working calendar: per-date exceptions to the weekly rule and the daily working periods."""

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Date, String, Time
from sqlalchemy.orm import Mapped, mapped_column

from models.base import UTCDateTime, db


class DaySource(StrEnum):
    OFFICIAL = "official"  # the State Council's published schedule
    ESTIMATED = "estimated"  # the holiday library's guess for a year not yet published
    ADMIN = "admin"  # set by hand; seeding never overwrites it


class CalendarDay(db.Model):
    """A date that breaks the weekly rule (Mon-Fri working): a holiday, a make-up workday or an override."""

    __tablename__ = "calendar_days"
    __table_args__ = (
        CheckConstraint("source IN ('official', 'estimated', 'admin')", name="source"),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(nullable=False)
    name: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkPeriod(db.Model):
    """Daily working hours, wall clock in the unit's timezone, the same on every working day."""

    __tablename__ = "work_periods"
    __table_args__ = (CheckConstraint("starts < ends", name="order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    starts: Mapped[time] = mapped_column(Time, nullable=False)
    ends: Mapped[time] = mapped_column(Time, nullable=False)


class CalendarVersion(db.Model):
    """One row whose `version` database triggers bump on every write to calendar_days and work_periods, so a
    cached calendar can tell it is stale whoever wrote the change and whatever it changed."""

    __tablename__ = "calendar_version"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
