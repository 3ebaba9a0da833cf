"""Three real `flask scheduler run` processes on one PostgreSQL database: one leads, rounds are made
once, and killing the leader hands over within the lease time with nothing lost or doubled.

This test runs on the wall clock by necessity (it tests real processes); it polls, bounded, instead of
sleeping for fixed times, and stops every process it started.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from config.settings import ROOT
from models import JobRun, PatrolRound, SchedulerLease, db, utcnow
from workflow.calendar import load_calendar
from workflow.patrols import plans

LEASE_S, TICK_S = 3, 0.5


def wait_until(condition, timeout: float, what: str):
    """Poll `condition` (in a fresh transaction each time) until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        if value := condition():
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def schedulers(database_url):
    env = os.environ | {"DATABASE_URL": database_url, "RECTIFY_ENV": "development",
                        "SCHEDULER_TICK_SECONDS": str(TICK_S), "SCHEDULER_LEASE_SECONDS": str(LEASE_S),
                        "SCHEDULER_JOB_SECONDS": str(TICK_S)}
    procs = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "scheduler", "run"], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(3)]
    yield {proc.pid: proc for proc in procs}
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        proc.wait(timeout=10)


def _plan_far_from_now(world):
    """Windows 3, 4 and 5 hours from now: none ends or enters the 48 h horizon while the test runs."""
    local = utcnow().astimezone(ZoneInfo("Asia/Shanghai"))
    windows = [{"label": f"w{h}", "start": (local + timedelta(hours=h)).strftime("%H:%M"),
                "end": (local + timedelta(hours=h, minutes=30)).strftime("%H:%M")} for h in (3, 4, 5)]
    plan = plans.create_plan(actor=None, now=utcnow(), unit_id=world.units["east"].id, name="far",
                                    mode="fixed_post", officer_ids=[world.users["officer"].id], windows=windows,
                                    point_ids=[world.points["market"].id], days="every_day",
                                    active_from=local.date() - timedelta(days=1))
    db.session.commit()
    return plan


def _holder() -> str | None:
    lease = db.session.get(SchedulerLease, "scheduler")
    return lease.holder if lease is not None and lease.expires_at > utcnow() else None


def test_three_schedulers_make_every_round_once_and_survive_the_leader_being_killed(world, schedulers):
    started = utcnow()
    plan = _plan_far_from_now(world)

    leader = wait_until(_holder, 30, "a leader")
    wait_until(lambda: db.session.get(JobRun, "materialize_rounds"), 30, "a first materialization")
    expected = _expected_starts(plan.id, started)
    assert _round_starts(plan.id) == expected and len(expected) == 6

    schedulers[int(leader.rsplit(":", 1)[1])].send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    successor = wait_until(lambda: (h := _holder()) and h != leader and h, LEASE_S + 10, "a new leader")
    assert time.monotonic() - killed_at <= LEASE_S + 5
    resumed = utcnow()
    wait_until(lambda: db.session.get(JobRun, "materialize_rounds").ran_at > resumed, 15, "the successor's tick")

    assert successor != leader
    assert _round_starts(plan.id) == expected  # nothing lost, nothing doubled


def _round_starts(plan_id: int) -> list:
    stmt = select(PatrolRound.planned_start).where(PatrolRound.plan_id == plan_id).order_by(PatrolRound.planned_start)
    return list(db.session.scalars(stmt))


def _expected_starts(plan_id: int, started) -> list:
    db.session.rollback()
    plan = db.session.get(plans.PatrolPlan, plan_id)
    windows = plans.windows_between(plan, load_calendar(db.session), started - timedelta(hours=24),
                                           plan.watermark)
    return [w.start for w in windows if w.end > started]
