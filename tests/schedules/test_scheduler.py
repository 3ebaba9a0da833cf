"""The scheduler: one leader through a lease row, idempotent ticks that only move forward."""

from datetime import timedelta

from models import IdempotencyRecord, JobRun, db
from schedules import lease
from schedules.jobs import JOBS, run_all, run_job
from schedules.runner import HEARTBEAT, build
from tests.conftest import NOW
from workflow import idempotency

TTL = timedelta(seconds=90)


def test_the_first_scheduler_takes_the_lease_and_a_second_is_refused_until_it_expires(ctx):
    assert lease.acquire(holder="host-a", now=NOW, ttl=TTL)
    assert not lease.acquire(holder="host-b", now=NOW + timedelta(seconds=30), ttl=TTL)
    assert lease.acquire(holder="host-a", now=NOW + timedelta(seconds=60), ttl=TTL)
    assert not lease.acquire(holder="host-b", now=NOW + timedelta(seconds=120), ttl=TTL)
    assert lease.acquire(holder="host-b", now=NOW + timedelta(seconds=151), ttl=TTL)
    assert lease.current().holder == "host-b"


def test_a_released_lease_can_be_taken_at_once(ctx):
    lease.acquire(holder="host-a", now=NOW, ttl=TTL)
    lease.release(holder="host-a")
    assert lease.acquire(holder="host-b", now=NOW, ttl=TTL)


def test_a_tick_records_when_each_job_ran(ctx):
    summaries = run_all(now=NOW)
    assert set(summaries) == set(JOBS)
    assert db.session.get(JobRun, "purge_idempotency").last_tick_at == NOW


def test_ticks_never_move_backwards(ctx):
    run_job("purge_idempotency", now=NOW)
    summary = run_job("purge_idempotency", now=NOW - timedelta(hours=1))
    assert summary.startswith("skipped")
    assert db.session.get(JobRun, "purge_idempotency").last_tick_at == NOW


def test_expired_idempotency_records_are_purged_and_fresh_ones_kept(world):
    officer = world.users["officer"]
    for key, at in (("old", NOW - timedelta(days=8)), ("fresh", NOW - timedelta(days=1))):
        idempotency.store(user_id=officer.id, key=key, request_hash="h", status=201, body="{}", headers={},
                          now=at)
    db.session.commit()
    assert run_job("purge_idempotency", now=NOW) == "purged 1 expired idempotency records"
    assert [r.expires_at > NOW for r in db.session.query(IdempotencyRecord)] == [True]


def test_every_job_is_registered_once_with_coalescing_and_no_misfire_limit(app):
    scheduler = build(app, blocking=False)
    jobs = scheduler.get_jobs()
    assert sorted(job.id for job in jobs) == sorted([*JOBS, HEARTBEAT])
    assert all(job.coalesce and job.misfire_grace_time is None and job.max_instances == 1 for job in jobs)


def test_tick_cli_runs_every_job_as_of_the_given_instant(runner, ctx):
    result = runner.invoke(args=["scheduler", "tick", "--at", "2026-11-26T08:00:00+08:00"])
    assert result.exit_code == 0, result.output
    assert "purge_idempotency: purged 0" in result.output
    assert "materialize_rounds: made 0 rounds" in result.output
    assert db.session.get(JobRun, "purge_idempotency").last_tick_at.isoformat() == "2026-11-26T00:00:00+00:00"


def test_one_failing_job_stops_no_other_and_the_tick_exits_1(runner, ctx, monkeypatch):
    """Issue 21, item 14: an exception in one job aborted `flask scheduler tick` (delivery, reports and the
    audit anchor were skipped)."""
    def broken(now):
        raise TypeError("unsupported type for timedelta days component: NoneType")

    monkeypatch.setitem(JOBS, "sweep_escalations", (broken, 60))
    result = runner.invoke(args=["scheduler", "tick", "--at", "2026-11-25T10:00:00+08:00"])

    assert result.exit_code == 1
    assert "sweep_escalations: failed: TypeError" in result.output
    assert "1 of" in result.output and "jobs failed: sweep_escalations" in result.output
    db.session.rollback()
    ran = {row.job_id for row in db.session.query(JobRun)}
    assert ran == set(JOBS) - {"sweep_escalations"}
    assert {"deliver_outbox", "make_unit_reports", "anchor_audit"} <= ran
