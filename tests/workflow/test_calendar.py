"""Working calendar: adding and measuring natural and working time, seeding holidays, admin overrides."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import flask
import pytest
from sqlalchemy import select

from models.base import db
from models.calendar import CalendarDay, WorkPeriod  # importing registers the tables
from workflow.calendar import (
    WorkCalendar,
    add_time,
    elapsed,
    estimated_years,
    load_calendar,
    seed_calendar,
    set_day,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
URUMQI = ZoneInfo("Asia/Urumqi")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
PERIODS = [(time(8, 30), time(12)), (time(13, 30), time(17, 30))]

# The published 2026 National Day schedule: 1-7 October off; 20 September and 10 October worked.
NATIONAL_DAY_2026 = {
    date(2026, 9, 20): True,
    date(2026, 10, 1): False,
    date(2026, 10, 2): False,
    date(2026, 10, 5): False,
    date(2026, 10, 6): False,
    date(2026, 10, 7): False,
    date(2026, 10, 10): True,
}
WEEKLY = WorkCalendar(periods=PERIODS)
CHINA_2026 = WorkCalendar(days=NATIONAL_DAY_2026, periods=PERIODS)


def local(tz, *args):
    return datetime(*args, tzinfo=tz)


def working(start, minutes, *, calendar=WEEKLY, tz=SHANGHAI):
    return add_time(start=start, minutes=minutes, clock="working", tz=tz, calendar=calendar)


def working_elapsed(start, end, *, calendar=WEEKLY, tz=SHANGHAI):
    return elapsed(start=start, end=end, clock="working", tz=tz, calendar=calendar)


# --- add_time --------------------------------------------------------------------------------------------


def test_natural_time_adds_every_minute_and_answers_in_utc():
    start = local(SHANGHAI, 2026, 10, 1, 9)  # a holiday, and a natural clock does not care
    due = add_time(start=start, minutes=90, clock="natural", tz=SHANGHAI, calendar=CHINA_2026)
    assert due == datetime(2026, 10, 1, 2, 30, tzinfo=UTC)
    assert due.tzinfo is UTC


def test_working_time_within_a_morning():
    assert working(local(SHANGHAI, 2026, 3, 2, 9), 60) == local(SHANGHAI, 2026, 3, 2, 10)


def test_working_time_skips_the_lunch_break():
    assert working(local(SHANGHAI, 2026, 3, 2, 11), 90) == local(SHANGHAI, 2026, 3, 2, 14)


def test_working_time_ending_exactly_at_noon_is_due_at_noon():
    assert working(local(SHANGHAI, 2026, 3, 2, 11), 60) == local(SHANGHAI, 2026, 3, 2, 12)


def test_working_time_skips_the_weekend():
    friday = local(SHANGHAI, 2026, 3, 6, 17)
    assert working(friday, 60) == local(SHANGHAI, 2026, 3, 9, 9)


def test_working_time_skips_the_national_day_holiday():
    eve = local(SHANGHAI, 2026, 9, 30, 17)
    assert working(eve, 60, calendar=CHINA_2026) == local(SHANGHAI, 2026, 10, 8, 9)


def test_working_time_counts_the_make_up_saturday():
    friday = local(SHANGHAI, 2026, 10, 9, 17)
    assert working(friday, 60, calendar=CHINA_2026) == local(SHANGHAI, 2026, 10, 10, 9)


def test_working_time_started_on_a_rest_day_counts_from_the_next_working_morning():
    sunday = local(SHANGHAI, 2026, 3, 8, 15)
    assert working(sunday, 30) == local(SHANGHAI, 2026, 3, 9, 9)


def test_working_time_started_at_night_counts_from_the_next_morning():
    assert working(local(SHANGHAI, 2026, 3, 2, 22), 30) == local(SHANGHAI, 2026, 3, 3, 9)


def test_a_full_working_week_is_five_days_of_seven_and_a_half_hours():
    monday = local(SHANGHAI, 2026, 3, 2, 8, 30)
    assert working(monday, 5 * 450) == local(SHANGHAI, 2026, 3, 6, 17, 30)


def test_zero_working_minutes_is_due_at_once():
    sunday = local(SHANGHAI, 2026, 3, 8, 15)
    assert working(sunday, 0) == sunday


def test_working_time_follows_the_wall_clock_across_a_dst_change():
    # Berlin moves from UTC+1 to UTC+2 on Sunday 29 March 2026; Monday still starts at 08:30 local.
    friday = local(BERLIN, 2026, 3, 27, 16)
    due = working(friday, 120, tz=BERLIN)
    assert due == local(BERLIN, 2026, 3, 30, 9)
    assert due == datetime(2026, 3, 30, 7, tzinfo=UTC)


def test_working_time_in_urumqi_uses_urumqi_office_hours():
    due = working(datetime(2026, 3, 2, 2, 30, tzinfo=UTC), 60, tz=URUMQI)  # 08:30 in Urumqi (UTC+6)
    assert due == datetime(2026, 3, 2, 3, 30, tzinfo=UTC)


def test_a_calendar_without_working_days_gives_up_instead_of_looping():
    never = WorkCalendar(periods=[])
    with pytest.raises(ValueError, match="working time"):
        working(local(SHANGHAI, 2026, 3, 2, 9), 60, calendar=never)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        working(datetime(2026, 3, 2, 9), 60)


def test_an_unknown_clock_is_refused():
    with pytest.raises(ValueError):
        add_time(start=NOW, minutes=1, clock="lunar", tz=SHANGHAI, calendar=WEEKLY)


def test_overlapping_periods_are_refused():
    with pytest.raises(ValueError, match="periods"):
        WorkCalendar(periods=[(time(8), time(12)), (time(11), time(17))])


def test_the_calendar_sorts_its_periods_and_cannot_be_changed():
    calendar = WorkCalendar(days={date(2026, 10, 10): True}, periods=list(reversed(PERIODS)))
    assert calendar.periods == tuple(PERIODS)
    with pytest.raises(TypeError):
        calendar.days[date(2026, 10, 11)] = True


def test_make_up_days_and_holidays_override_the_weekly_rule():
    assert CHINA_2026.is_workday(date(2026, 10, 10))  # a Saturday
    assert not CHINA_2026.is_workday(date(2026, 10, 7))  # a Wednesday
    assert CHINA_2026.is_workday(date(2026, 10, 8))
    assert not CHINA_2026.is_workday(date(2026, 10, 11))


# --- elapsed ---------------------------------------------------------------------------------------------


def test_natural_elapsed_is_never_negative():
    start = local(SHANGHAI, 2026, 3, 2, 9)
    assert elapsed(start=start, end=start - timedelta(hours=1), clock="natural", tz=SHANGHAI,
                   calendar=WEEKLY) == timedelta()
    assert elapsed(start=start, end=start + timedelta(hours=30), clock="natural", tz=SHANGHAI,
                   calendar=WEEKLY) == timedelta(hours=30)


def test_working_elapsed_counts_only_working_hours():
    friday_morning = local(SHANGHAI, 2026, 3, 6, 11)
    monday_morning = local(SHANGHAI, 2026, 3, 9, 9)
    assert working_elapsed(friday_morning, monday_morning) == timedelta(hours=5, minutes=30)


def test_working_elapsed_over_a_holiday_is_zero():
    holiday = (local(SHANGHAI, 2026, 10, 1), local(SHANGHAI, 2026, 10, 8))
    assert working_elapsed(*holiday, calendar=CHINA_2026) == timedelta()


STARTS = [
    local(SHANGHAI, 2026, 9, 30, 8, 30),  # the start of a working day
    local(SHANGHAI, 2026, 9, 30, 11, 59),  # just before lunch
    local(SHANGHAI, 2026, 9, 30, 12, 45),  # during lunch
    local(SHANGHAI, 2026, 10, 3, 10),  # inside the holiday
    local(SHANGHAI, 2026, 10, 9, 23, 15),  # the night before the make-up Saturday
    datetime(2026, 9, 19, 16, 0, 30, tzinfo=UTC),  # a Sunday 00:00:30 in Shanghai, seconds included
]
MINUTES = [0, 1, 29, 210, 451, 2250, 10_000]


@pytest.mark.parametrize("tz", [SHANGHAI, BERLIN, URUMQI])
def test_elapsed_is_the_inverse_of_add_time(tz):
    for start in STARTS:
        for minutes in MINUTES:
            due = working(start, minutes, calendar=CHINA_2026, tz=tz)
            assert working_elapsed(start, due, calendar=CHINA_2026, tz=tz) == timedelta(minutes=minutes), (
                start, minutes
            )


def test_elapsed_is_the_inverse_of_add_time_across_both_berlin_dst_changes():
    for start in [local(BERLIN, 2026, 3, 27, 17), local(BERLIN, 2026, 10, 23, 16, 45)]:
        for minutes in MINUTES:
            due = working(start, minutes, tz=BERLIN)
            assert working_elapsed(start, due, tz=BERLIN) == timedelta(minutes=minutes)


# --- the stored calendar ---------------------------------------------------------------------------------


@pytest.fixture
def session():
    app = flask.Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    db.init_app(app)
    with app.app_context():
        db.create_all()
        yield db.session
        db.session.remove()
        db.drop_all()


def test_seeding_marks_2026_official_and_2027_estimated(session):
    seed_calendar(session, years=[2026, 2027], now=NOW)
    national_day = session.get(CalendarDay, date(2026, 10, 1))
    assert (national_day.workday, national_day.name, national_day.source) == (False, "国庆节", "official")
    assert session.get(CalendarDay, date(2027, 10, 1)).source == "estimated"
    assert estimated_years(session) == [2027]


def test_seeding_stores_make_up_workdays_of_the_year_only(session):
    seed_calendar(session, years=[2026], now=NOW)
    make_up = session.get(CalendarDay, date(2026, 1, 4))  # a Sunday
    assert (make_up.workday, make_up.source) == (True, "official")
    assert session.get(CalendarDay, date(2026, 2, 14)).workday
    assert session.get(CalendarDay, date(2011, 12, 31)) is None  # the library lists it with every year


def test_the_seeded_calendar_knows_the_national_day_holiday(session):
    seed_calendar(session, years=[2026], now=NOW)
    calendar = load_calendar(session)
    for day in range(1, 8):
        assert not calendar.is_workday(date(2026, 10, day))
    assert calendar.is_workday(date(2026, 9, 20))
    assert calendar.is_workday(date(2026, 10, 10))
    assert working(local(SHANGHAI, 2026, 9, 30, 17), 60, calendar=calendar) == local(SHANGHAI, 2026, 10, 8, 9)


def test_seeding_twice_writes_nothing_new(session):
    assert seed_calendar(session, years=[2026, 2027], now=NOW) > 0
    assert seed_calendar(session, years=[2026, 2027], now=NOW + timedelta(days=1)) == 0
    assert session.get(CalendarDay, date(2026, 10, 1)).updated_at == NOW


def test_seeding_keeps_an_admin_override(session):
    set_day(session, day=date(2026, 10, 1), workday=True, name="应急值守", now=NOW)
    seed_calendar(session, years=[2026], now=NOW)
    row = session.get(CalendarDay, date(2026, 10, 1))
    assert (row.workday, row.name, row.source) == (True, "应急值守", "admin")
    assert load_calendar(session).is_workday(date(2026, 10, 1))


def test_seeding_replaces_an_estimate_the_library_no_longer_lists(session):
    session.add(CalendarDay(day=date(2026, 3, 3), workday=False, name="旧估计", source="estimated"))
    seed_calendar(session, years=[2026], now=NOW)
    assert session.get(CalendarDay, date(2026, 3, 3)) is None


def test_an_admin_can_make_a_weekend_a_working_day(session):
    row = set_day(session, day=date(2026, 3, 7), workday=True, name=None, now=NOW)
    assert (row.source, row.updated_at) == ("admin", NOW)
    assert load_calendar(session).is_workday(date(2026, 3, 7))


def test_without_stored_periods_the_calendar_uses_the_default_hours(session):
    assert load_calendar(session).periods == tuple(PERIODS)


def test_seeding_stores_the_default_periods_once(session):
    seed_calendar(session, years=[], now=NOW)
    seed_calendar(session, years=[], now=NOW)
    stored = session.scalars(select(WorkPeriod).order_by(WorkPeriod.starts)).all()
    assert [(p.starts, p.ends) for p in stored] == PERIODS


def test_stored_periods_replace_the_default_hours(session):
    session.add(WorkPeriod(starts=time(9), ends=time(17)))
    session.flush()
    assert load_calendar(session).periods == ((time(9), time(17)),)
