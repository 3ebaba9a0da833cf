"""Working time over long spans is looked up from running day totals: it must equal the walk over every
working period, across holidays, make-up days and daylight-saving changes."""

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from workflow.calendar import WorkCalendar, _clipped, _segments, elapsed

CALENDAR = WorkCalendar(days={date(2026, 10, d): False for d in range(1, 8)} | {date(2026, 10, 10): True,
                                                                                  date(2027, 3, 29): False},
                        periods=((time(8, 30), time(12)), (time(13, 30), time(17, 30))))


def walked(start: datetime, end: datetime, tz: ZoneInfo) -> timedelta:
    """The reference: every working period between the two instants, clipped."""
    return _clipped(_segments(start.astimezone(tz).date(), end.astimezone(tz).date(), tz, CALENDAR), start, end)


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin"])
def test_long_spans_equal_the_walk_over_every_period(zone):
    tz, rng = ZoneInfo(zone), random.Random(zone)
    origin = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(300):
        start = origin + timedelta(minutes=rng.randrange(0, 600 * 24 * 60))
        end = start + timedelta(minutes=rng.randrange(0, 400 * 24 * 60))
        assert elapsed(start=start, end=end, clock="working", tz=tz, calendar=CALENDAR) == walked(start, end, tz)


def test_a_span_across_a_week_of_holidays_and_a_make_up_saturday():
    tz = ZoneInfo("Asia/Shanghai")
    start = datetime(2026, 9, 30, 17, tzinfo=tz)  # the last half hour before National Day
    end = datetime(2026, 10, 12, 9, tzinfo=tz)    # Monday, half an hour in
    # 30 min + Thursday 8 and Friday 9 (7.5 h each) + Saturday 10 (make-up, 7.5 h) + 30 min
    assert elapsed(start=start, end=end, clock="working", tz=tz, calendar=CALENDAR) == timedelta(hours=23.5)
