"""What /healthz reports: the database, the scheduler's leader and heartbeats, calendar warnings."""

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from models import JobRun, SchedulerLease
from models.base import db
from workflow.calendar import estimated_years

LEASE = "scheduler"


def database_unavailable(error: Exception) -> bool:
    """Is this the database being down, unreachable or busy (worth a retry) rather than a bug?

    OperationalError (connection refused or lost, server shutting down, SQLite busy), InterfaceError (the
    driver's connection is closed), any DBAPI error SQLAlchemy recognised as a disconnect, a pool that had
    no free connection within its timeout, and a pre-ping that could not reconnect."""
    if isinstance(error, OperationalError | InterfaceError | PoolTimeout | DisconnectionError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def database_answers() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
    except DBAPIError:
        db.session.rollback()
        return False
    return True


def scheduler_status(*, now: datetime) -> dict:
    """Who leads (an unexpired lease), each job's last tick, and how long since any job last ran."""
    held = db.session.get(SchedulerLease, LEASE)
    runs = db.session.scalars(select(JobRun)).all()
    lag = min(((now - run.ran_at).total_seconds() for run in runs), default=None)
    return {"leader": held.holder if held is not None and held.expires_at > now else None,
            "last_tick_at": {run.job_id: run.last_tick_at.isoformat() for run in runs},
            "lag_s": round(lag, 1) if lag is not None else None}


def warnings(*, now: datetime) -> list[str]:
    """Things an operator should fix: a working calendar that is still the library's estimate."""
    return [f"the working calendar for {year} is the holiday library's estimate; import the official "
            "schedule through /api/v1/calendar" for year in estimated_years(db.session) if year <= now.year + 1]
