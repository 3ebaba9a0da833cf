"""The scheduled jobs: thin ticks that ask the database what is due as of `now`."""

from collections.abc import Callable
from datetime import datetime

from models import JobRun
from models.base import db
from workflow import idempotency


def purge_idempotency(now: datetime) -> str:
    """Forget Idempotency-Key records older than their keep time."""
    return f"purged {idempotency.purge(now=now)} expired idempotency records"


# job id -> (tick, interval in seconds). Later jobs (rounds, escalation, outbox) join this table.
JOBS: dict[str, tuple[Callable[[datetime], str], int]] = {
    "purge_idempotency": (purge_idempotency, 3600),
}


def run_job(job_id: str, *, now: datetime) -> str:
    """Run one job as of `now` and record it, in one transaction; ticks only move forward."""
    tick, _ = JOBS[job_id]
    last = db.session.get(JobRun, job_id)
    if last is not None and last.last_tick_at > now:
        db.session.rollback()
        return f"skipped: already ran as of {last.last_tick_at.isoformat()}"
    try:
        summary = tick(now)
        row = last or JobRun(job_id=job_id)
        row.last_tick_at, row.ran_at, row.summary = now, now, summary
        db.session.add(row)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return summary


def run_all(*, now: datetime) -> dict[str, str]:
    """Run every job once as of `now`."""
    return {job_id: run_job(job_id, now=now) for job_id in JOBS}
