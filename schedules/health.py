"""What /healthz says about the scheduler: who leads and when each job last ran."""

from datetime import datetime

from sqlalchemy import select

from models import JobRun
from models.base import db
from schedules import lease


def scheduler_health(*, now: datetime) -> dict:
    held = lease.current()
    leader = held.holder if held is not None and held.expires_at > now else None
    runs = db.session.scalars(select(JobRun)).all()
    last = {run.job_id: run.last_tick_at.isoformat() for run in runs}
    lag = min(((now - run.ran_at).total_seconds() for run in runs), default=None)
    return {"leader": leader, "last_tick_at": last, "lag_s": round(lag, 1) if lag is not None else None}
