"""Whole working days of the working calendar: deadlines on orders and the days re-checks fall on."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from workflow.calendar import MAX_DAYS, WorkCalendar
from workflow.errors import Invalid


def after(day: date, count: int, calendar: WorkCalendar) -> date:
    """The `count`-th working day after `day` (`day` itself not counted)."""
    for offset in range(1, MAX_DAYS):
        candidate = day + timedelta(days=offset)
        if calendar.is_workday(candidate):
            count -= 1
            if count <= 0:
                return candidate
    raise Invalid("the calendar has no working days to count a deadline in")


def on_or_before(day: date, calendar: WorkCalendar) -> date:
    """`day` if it is a working day, else the working day before it."""
    for offset in range(MAX_DAYS):
        candidate = day - timedelta(days=offset)
        if calendar.is_workday(candidate):
            return candidate
    return day


def opening(day: date, calendar: WorkCalendar, tz: ZoneInfo) -> datetime:
    """When the working day begins (the first working period's start), in UTC."""
    return datetime.combine(day, calendar.periods[0][0], tzinfo=tz).astimezone(UTC)


def closing(day: date, calendar: WorkCalendar, tz: ZoneInfo) -> datetime:
    """When the working day ends (the last working period's end), in UTC."""
    return datetime.combine(day, calendar.periods[-1][1], tzinfo=tz).astimezone(UTC)
