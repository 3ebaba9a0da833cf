"""A new database knows the statutory calendar of this year and the next without a step anyone can forget."""

from datetime import UTC, date, datetime

from flask_migrate import upgrade
from sqlalchemy import delete, select

from models.base import db
from models.calendar import CalendarDay
from schedules.jobs import run_job
from tests.conftest import NOW
from workflow import health
from workflow.calendar import default_years, keep_calendar, load_calendar, seed_calendar


def test_a_fresh_migrated_database_knows_national_day_and_its_make_up_days(scratch):
    upgrade(directory=str(scratch))  # the production recipe: nothing but `flask db upgrade`
    year = datetime.now(UTC).year
    days = set(db.session.scalars(select(CalendarDay.day)))
    assert {date(year, 10, 1), date(year + 1, 10, 1)} <= days
    if year == 2026:
        calendar = load_calendar(db.session)
        assert not calendar.is_workday(date(2026, 10, 5))
        assert calendar.is_workday(date(2026, 9, 20)) and calendar.is_workday(date(2026, 10, 10))


def test_the_calendar_job_stores_the_next_year_when_the_year_turns(ctx):
    new_year = datetime(2027, 12, 31, 16, 30, tzinfo=UTC)  # 2028-01-01 00:30 in Shanghai
    try:
        db.session.execute(delete(CalendarDay).where(CalendarDay.day >= date(2028, 1, 1)))
        db.session.commit()
        assert "wrote 0" not in run_job("keep_calendar", now=new_year)
        assert not load_calendar(db.session).is_workday(date(2029, 10, 2))
        assert keep_calendar(db.session, now=new_year) == 0  # idempotent
    finally:
        db.session.rollback()
        db.session.execute(delete(CalendarDay).where(CalendarDay.day >= date(2028, 1, 1)))
        seed_calendar(db.session, years=default_years(), now=NOW)
        db.session.commit()


def test_healthz_is_degraded_when_next_year_has_no_statutory_days(client, ctx):
    removed = db.session.scalars(select(CalendarDay).where(CalendarDay.day >= date(2027, 1, 1),
                                                           CalendarDay.day <= date(2027, 12, 31))).all()
    saved = [(d.day, d.workday, d.name, d.source, d.updated_at) for d in removed]
    db.session.execute(delete(CalendarDay).where(CalendarDay.day.between(date(2027, 1, 1), date(2027, 12, 31))))
    db.session.commit()
    try:
        body = client.get("/healthz").json
        assert body["status"] == "degraded"
        assert any("no statutory holidays for 2027" in warning for warning in body["warnings"])
        assert not any("2026" in w for w in health.warnings(now=NOW))
    finally:
        db.session.add_all([CalendarDay(day=d, workday=w, name=n, source=s, updated_at=u) for d, w, n, s, u in saved])
        db.session.commit()
