"""Working time: which dates and hours count, adding and measuring time, seeding statutory holidays."""

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo, available_timezones

import holidays
from holidays.countries.china import ChinaStaticHolidays
from sqlalchemy import func, select
from sqlalchemy.orm import Session, scoped_session

from models.calendar import CalendarDay, CalendarVersion, DaySource, WorkPeriod
from models.enums import Clock, Role
from workflow.errors import Forbidden, Invalid

DEFAULTS_FILE = Path(__file__).resolve().parents[1] / "config" / "defaults" / "calendar.toml"
# A deadline further away than ten years means the calendar has (almost) no working time: bad data.
MAX_DAYS = 3660
# How far ahead of the server a device's clock may run before a time it reports counts as "in the future".
CLOCK_SKEW = timedelta(minutes=5)
MAKEUP_NAME = "调休上班"
CHINA = ZoneInfo("Asia/Shanghai")  # the statutory calendar is China's, whatever a unit's timezone

Period = tuple[time, time]


@dataclass(frozen=True)
class WorkCalendar:
    """Which local dates are working days (exceptions to Mon-Fri) and which hours of them count."""

    days: Mapping[date, bool] = field(default_factory=dict)
    periods: tuple[Period, ...] = ()

    def __post_init__(self):
        periods = tuple(sorted(self.periods))
        _check_periods(periods)
        object.__setattr__(self, "days", MappingProxyType(dict(self.days)))
        object.__setattr__(self, "periods", periods)
        object.__setattr__(self, "_sums", {})  # per timezone: running totals of working seconds per day

    def is_workday(self, day: date) -> bool:
        """Tell whether a local date is a working day: its exception if any, else Monday to Friday."""
        return self.days.get(day, day.weekday() < 5)


def _check_periods(periods: tuple[Period, ...]) -> None:
    """Refuse empty, reversed or overlapping periods (a period never crosses midnight)."""
    for i, (starts, ends) in enumerate(periods):
        if starts >= ends or (i and periods[i - 1][1] > starts):
            raise ValueError(f"bad working periods: {periods}")


@cache
def _defaults() -> dict:
    with DEFAULTS_FILE.open("rb") as f:
        return tomllib.load(f)


def default_periods() -> list[Period]:
    """Return the working periods of config/defaults/calendar.toml."""
    periods = _defaults()["periods"]
    return [(time.fromisoformat(p["starts"]), time.fromisoformat(p["ends"])) for p in periods]


def default_years() -> list[int]:
    """Return the years config/defaults/calendar.toml asks to seed."""
    return list(_defaults()["years"])


def load_calendar(session: Session) -> WorkCalendar:
    """The stored exceptions and periods (the default periods while none are stored), as of this transaction.

    Every working-clock transition needs the calendar, so it is cached: per process, under the calendar's
    version that one small statement reads once per transaction (so a change committed by anyone is seen by
    the next transaction), and per transaction after that. Writes through this module (set_day, import_days,
    seed_calendar) also drop both caches at once, so the writing transaction sees its own change.
    """
    session = session() if isinstance(session, scoped_session) else session  # db.session is one
    memo = session.info.get(_MEMO)
    transaction = session.get_transaction()
    if memo is not None and transaction is not None and memo[0] is transaction:
        return memo[1]
    bind, fingerprint = session.get_bind(), _noted_version(session, transaction)
    cached = _CACHE.get("last")
    if cached is not None and cached[0] is bind and cached[1] == fingerprint:
        calendar = cached[2]
    else:
        calendar = _read_calendar(session)
        _CACHE["last"] = (bind, fingerprint, calendar)
    session.info[_MEMO] = (session.get_transaction(), calendar)
    return calendar


_MEMO = "rectify.work_calendar"
_CACHE: dict[str, tuple] = {}  # "last": (engine, fingerprint, WorkCalendar) of the last calendar this process read


_NOTED = "rectify.calendar_version"  # session.info: (transaction, version) read along with another statement


def _fingerprint(session: Session) -> int | None:
    """The calendar's version: database triggers bump it on every write to calendar_days or work_periods, by
    anyone (decision 0031), so no edit can keep it unchanged the way a count or a latest time could."""
    return session.scalar(_version())


def _version():
    return select(CalendarVersion.version).where(CalendarVersion.id == 1)


@cache
def version_column():
    """The calendar's version as a scalar subquery, for a statement that reads it along with its own rows
    (an action's problem read: workflow/problems/visibility.py); `note_version` hands the value over."""
    return _version().scalar_subquery()


def note_version(session: Session, version: int | None) -> None:
    """The calendar's version as this transaction read it along with another statement: `load_calendar`
    needs no statement of its own."""
    session = session() if isinstance(session, scoped_session) else session
    session.info[_NOTED] = (session.get_transaction(), version)


def _noted_version(session: Session, transaction) -> int | None:
    noted = session.info.get(_NOTED)
    if noted is not None and transaction is not None and noted[0] is transaction:
        return noted[1]
    return _fingerprint(session)


def _read_calendar(session: Session) -> WorkCalendar:
    days = dict(session.execute(select(CalendarDay.day, CalendarDay.workday)).tuples().all())
    periods = session.execute(select(WorkPeriod.starts, WorkPeriod.ends)).tuples().all()
    return WorkCalendar(days=days, periods=periods or default_periods())


def forget_calendar(session: Session) -> None:
    """Drop the cached calendar (after a write to its tables)."""
    _CACHE.clear()
    info = (session() if isinstance(session, scoped_session) else session).info
    info.pop(_MEMO, None)
    info.pop(_NOTED, None)


def add_time(*, start: datetime, minutes: int, clock: str, tz: ZoneInfo, calendar: WorkCalendar) -> datetime:
    """Return the UTC instant when `minutes` of natural or working time have passed since `start`."""
    start = _utc(start)
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    if Clock(clock) is Clock.NATURAL:
        return start + timedelta(minutes=minutes)
    return _add_working(start, timedelta(minutes=minutes), tz, calendar)


def elapsed(*, start: datetime, end: datetime, clock: str, tz: ZoneInfo, calendar: WorkCalendar) -> timedelta:
    """Return the natural or working time from `start` to `end`; zero when `end` is not later."""
    start, end = _utc(start), _utc(end)
    if Clock(clock) is Clock.NATURAL or end <= start:
        return max(end - start, timedelta())
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    if (last - first).days < 2:
        return _clipped(_segments(first, last, tz, calendar), start, end)
    # The days in between count whole: look their sum up instead of walking them (a step long overdue).
    return (_clipped(_segments(first, first, tz, calendar), start, end) + _whole_days(calendar, tz, first, last)
            + _clipped(_segments(last, last, tz, calendar), start, end))


def _clipped(spans, start: datetime, end: datetime) -> timedelta:
    return sum((max(min(e, end) - max(s, start), timedelta()) for s, e in spans), timedelta())


def _whole_days(calendar: WorkCalendar, tz: ZoneInfo, after: date, before: date) -> timedelta:
    """The working time of the local days strictly between `after` and `before`, from running totals kept
    with the calendar (a changed calendar is a new object, so they never go stale)."""
    base, sums = calendar._sums.get(tz.key, (None, []))
    if base is None or after < base or (before - base).days >= len(sums):
        low = min(after, base) if base is not None else after
        high = max(before, base + timedelta(days=len(sums) - 1)) if base is not None else before
        low, high = low - timedelta(days=366), high + timedelta(days=366)
        sums = [0]
        for offset in range((high - low).days + 1):
            day = low + timedelta(days=offset)
            sums.append(sums[-1] + int(_clipped(_segments(day, day, tz, calendar), _MIN, _MAX).total_seconds()))
        base = low
        calendar._sums[tz.key] = (base, sums)
    return timedelta(seconds=sums[(before - base).days] - sums[(after - base).days + 1])


_MIN, _MAX = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)


def _add_working(start: datetime, remaining: timedelta, tz: ZoneInfo, calendar: WorkCalendar) -> datetime:
    """Walk the working periods from `start` until `remaining` is used up."""
    if not remaining:
        return start
    first = start.astimezone(tz).date()
    for seg_start, seg_end in _segments(first, first + timedelta(days=MAX_DAYS), tz, calendar):
        available = seg_end - max(seg_start, start)
        if available <= timedelta():
            continue
        if remaining <= available:
            return seg_end - available + remaining
        remaining -= available
    raise ValueError(f"no end within {MAX_DAYS} days: the calendar has too little working time")


def _segments(
    first: date, last: date, tz: ZoneInfo, calendar: WorkCalendar
) -> Iterator[tuple[datetime, datetime]]:
    """Yield the UTC bounds of every working period on the local dates `first` to `last`."""
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        if calendar.is_workday(day):
            for starts, ends in calendar.periods:
                yield _instant(day, starts, tz), _instant(day, ends, tz)


def _instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """Turn a local wall time into UTC (so a DST change moves it correctly)."""
    return datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime refused: pass timezone-aware values only")
    return value.astimezone(UTC)


def statutory_days(year: int) -> dict[date, tuple[bool, str]]:
    """Map the year's China holidays and make-up workdays (调休) to (workday, name)."""
    china = holidays.China(years=[year], language="zh_CN")
    days = {day: (False, name[:100]) for day, name in china.items() if day.year == year}
    # weekend_workdays also holds make-up days of other years, whatever `years` says.
    days.update({day: (True, MAKEUP_NAME) for day in china.weekend_workdays if day.year == year})
    return days


def year_source(year: int) -> DaySource:
    """Tell whether the library holds the published (State Council) schedule of a year or estimates it."""
    published = max(ChinaStaticHolidays.special_public_holidays)
    return DaySource.OFFICIAL if year <= published else DaySource.ESTIMATED


def seed_calendar(session: Session, *, years: list[int], now: datetime) -> int:
    """Write each year's statutory calendar and, if none exist, the default periods; return rows written."""
    written = sum(_seed_year(session, year=year, now=now) for year in years)
    written += _seed_periods(session)
    session.flush()
    forget_calendar(session)
    return written


def _seed_year(session: Session, *, year: int, now: datetime) -> int:
    """Bring one year's seeded rows in line with the library, leaving admin rows alone."""
    wanted, source = statutory_days(year), year_source(year)
    in_year = CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31))
    existing = {row.day: row for row in session.scalars(select(CalendarDay).where(in_year))}
    written = sum(
        _write_day(session, existing.get(day), day=day, workday=workday, name=name, source=source, now=now)
        for day, (workday, name) in wanted.items()
    )
    # A library upgrade can replace an estimate with the published schedule: drop what it no longer lists.
    stale = [row for row in existing.values() if row.source != DaySource.ADMIN and row.day not in wanted]
    for row in stale:
        session.delete(row)
    return written + len(stale)


def _write_day(
    session: Session, row: CalendarDay | None, *, day: date, workday: bool, name: str,
    source: DaySource, now: datetime,
) -> int:
    """Insert or correct one seeded day unless an admin set it or it is already right; return 1 if written."""
    if row is None:
        row = CalendarDay(day=day)
        session.add(row)
    elif row.source == DaySource.ADMIN or (row.workday, row.name, row.source) == (workday, name, source):
        return 0
    row.workday, row.name, row.source, row.updated_at = workday, name, source, now
    return 1


def _seed_periods(session: Session) -> int:
    """Store the default working periods when the table is empty; return how many were added."""
    if session.scalar(select(func.count()).select_from(WorkPeriod)):
        return 0
    periods = default_periods()
    session.add_all([WorkPeriod(starts=starts, ends=ends) for starts, ends in periods])
    return len(periods)


def set_day(session: Session, *, day: date, workday: bool, name: str | None, now: datetime) -> CalendarDay:
    """Override one date by hand (source `admin`); seeding never touches it again."""
    row = session.get(CalendarDay, day) or CalendarDay(day=day)
    row.workday, row.name, row.source, row.updated_at = workday, name, DaySource.ADMIN, now
    session.add(row)
    session.flush()
    forget_calendar(session)
    return row


def statutory_years(now: datetime) -> list[int]:
    """The years a running install must know: the current one (China's calendar year) and the next."""
    year = now.astimezone(CHINA).year
    return [year, year + 1]


def keep_calendar(session: Session, *, now: datetime) -> int:
    """Seed the current and next year's statutory days if anything is missing (idempotent); return rows written."""
    return seed_calendar(session, years=statutory_years(now), now=now)


def years_without_days(session: Session, *, years: list[int]) -> list[int]:
    """The years among `years` with no calendar day stored at all (no holidays, no make-up workdays)."""
    stored = {day.year for day in session.scalars(
        select(CalendarDay.day).where(CalendarDay.day.between(date(min(years), 1, 1), date(max(years), 12, 31))))}
    return [year for year in years if year not in stored]


def estimated_years(session: Session) -> list[int]:
    """List the years whose stored calendar is still the library's estimate (for a health warning)."""
    days = session.scalars(select(CalendarDay.day).where(CalendarDay.source == DaySource.ESTIMATED))
    return sorted({day.year for day in days})


def import_days(session: Session, *, actor, now: datetime, days: list[dict]) -> int:
    """Admins correct or import days (source `admin`); returns the earliest year touched."""
    if actor.role != Role.ADMIN:
        raise Forbidden("only an admin may change the working calendar")
    for item in days:
        set_day(session, now=now, **item)
    return min(item["day"] for item in days).year


def year_view(session: Session, *, year: int) -> dict:
    """A year's stored exceptions and the daily working periods, for reading."""
    days = session.scalars(select(CalendarDay).where(CalendarDay.day >= date(year, 1, 1),
                                                     CalendarDay.day <= date(year, 12, 31))
                           .order_by(CalendarDay.day)).all()
    periods = load_calendar(session).periods
    return {"year": year, "days": days,
            "periods": [{"starts": s.strftime("%H:%M"), "ends": e.strftime("%H:%M")} for s, e in periods]}


# --- time zones ------------------------------------------------------------------------------

def check_timezone(name: str) -> str:
    """An IANA zone name (not "localtime" or a path), else Invalid."""
    if name not in _zones():
        raise Invalid(f"unknown timezone {name!r}", errors={"timezone": ["not an IANA timezone"]})
    return name


@cache
def _zones() -> frozenset[str]:
    """IANA names, less what some systems add that depends on the host ("localtime", posix/, right/)."""
    host_specific = ("localtime", "posixrules", "Factory")
    return frozenset(name for name in available_timezones()
                     if name not in host_specific and not name.startswith(("posix/", "right/")))
