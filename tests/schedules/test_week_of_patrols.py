"""A week of the demo district's patrols, simulated with `flask scheduler tick --at` every hour.

The week runs Monday 2026-09-28 to Monday 2026-10-05 (Asia/Shanghai): three workdays, then the National
Day holiday (rest days). Nobody walks, so every round ends missed; we count the rounds by window.
"""

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import PatrolPlan, PatrolRound, db

TZ = ZoneInfo("Asia/Shanghai")
FIRST_TICK = datetime(2026, 9, 28, 0, 0, tzinfo=TZ)
LAST_TICK = datetime(2026, 10, 5, 3, 0, tzinfo=TZ)
WEEK_END = datetime(2026, 10, 5, 0, 0, tzinfo=TZ)


def test_a_week_of_hourly_ticks_makes_and_closes_the_expected_rounds(runner, ctx):
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    at = FIRST_TICK
    while at <= LAST_TICK:
        result = runner.invoke(args=["scheduler", "tick", "--at", at.isoformat()])
        assert result.exit_code == 0, result.output
        at += timedelta(hours=1)

    rows = db.session.execute(
        select(PatrolPlan.name, PatrolRound.label, PatrolRound.planned_start, PatrolRound.state,
               PatrolRound.missed_reason)
        .join(PatrolPlan).where(PatrolRound.planned_start < WEEK_END)).all()
    by_window = Counter((name, label) for name, label, *_ in rows)
    assert by_window == {
        ("东关早市定岗", "早"): 7,          # every day
        ("东关网格动态巡查", "中"): 7,
        ("东关网格动态巡查", "晚"): 7,
        # rest days only: Sunday 9-27's night window was still running at the first tick (20:00-02:00),
        # then National Day 10-01 to 10-04; the workdays 9-28 to 9-30 have none.
        ("西城夜市延时执勤", "夜"): 5,
    }
    night_days = sorted(start.astimezone(TZ).date().isoformat()
                        for name, _, start, *_ in rows if name.startswith("西城"))
    assert night_days == ["2026-09-27", "2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04"]
    assert {(state, reason) for *_, state, reason in rows} == {("missed", "no_checkin")}


def test_a_tick_repeated_at_the_same_instant_changes_nothing(runner, ctx):
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    first = runner.invoke(args=["scheduler", "tick", "--at", FIRST_TICK.isoformat()]).output
    again = runner.invoke(args=["scheduler", "tick", "--at", FIRST_TICK.isoformat()]).output
    assert "materialize_rounds: made 0 rounds" not in first
    assert "materialize_rounds: made 0 rounds" in again and "opened 0, missed 0" in again
