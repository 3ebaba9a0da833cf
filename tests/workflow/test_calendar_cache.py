"""The working calendar is cached per process and per transaction, and still sees every change."""

from datetime import date, timedelta

from sqlalchemy import event, select, update

from models.base import db
from models.calendar import CalendarDay
from tests.conftest import NOW
from workflow.calendar import load_calendar, set_day

NATIONAL_DAY = date(2026, 10, 1)


def count_statements(fn):
    statements = []

    def listener(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        result = fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return result, statements


def test_the_calendar_is_read_once_per_transaction(ctx):
    load_calendar(db.session)
    _, statements = count_statements(lambda: [load_calendar(db.session) for _ in range(5)])
    assert statements == []
    db.session.commit()
    _, statements = count_statements(lambda: load_calendar(db.session))
    queries = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 1 and "calendar_version" in queries[0]  # the version: rows come from the cache


def test_a_change_committed_elsewhere_is_seen_by_the_next_transaction(ctx):
    assert not load_calendar(db.session).is_workday(NATIONAL_DAY)
    db.session.commit()
    # What another process does: a plain UPDATE, which does not drop this process's cache.
    db.session.execute(update(CalendarDay).where(CalendarDay.day == NATIONAL_DAY)
                       .values(workday=True, updated_at=NOW + timedelta(minutes=1)))
    db.session.commit()
    try:
        assert load_calendar(db.session).is_workday(NATIONAL_DAY)
    finally:
        db.session.execute(update(CalendarDay).where(CalendarDay.day == NATIONAL_DAY)
                           .values(workday=False, updated_at=NOW))
        db.session.commit()


def test_an_admin_change_is_seen_at_once_in_the_same_transaction(ctx):
    assert load_calendar(db.session).is_workday(date(2026, 3, 7)) is False  # a Saturday
    set_day(db.session, day=date(2026, 3, 7), workday=True, name=None, now=NOW)
    assert load_calendar(db.session).is_workday(date(2026, 3, 7))
    db.session.rollback()
    assert load_calendar(db.session).is_workday(date(2026, 3, 7)) is False


def test_a_working_period_edited_in_the_middle_of_the_day_is_seen(ctx):
    """Moving the end of the morning keeps the period count, the earliest start and the latest end."""
    from datetime import time

    from models.calendar import WorkPeriod

    load_calendar(db.session)
    db.session.commit()
    morning = db.session.scalars(select(WorkPeriod).order_by(WorkPeriod.starts)).first()
    before = morning.ends
    # What another process or an operator's SQL does: a plain UPDATE that does not drop this process's cache.
    db.session.execute(update(WorkPeriod).where(WorkPeriod.id == morning.id).values(ends=time(11, 30)))
    db.session.commit()
    try:
        assert (morning.starts, time(11, 30)) in load_calendar(db.session).periods
    finally:
        db.session.execute(update(WorkPeriod).where(WorkPeriod.id == morning.id).values(ends=before))
        db.session.commit()
    assert (morning.starts, before) in load_calendar(db.session).periods
