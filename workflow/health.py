"""What /healthz reports: the database, the scheduler's leader and heartbeats, and warnings an operator
should act on (calendar; scheduler lag, a stuck outbox, dead letters, migrations behind). The metrics read
the same figures."""

from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from models import JobRun, OutboxMessage, SchedulerLease, WebhookDelivery
from models.base import db
from models.enums import DeliveryStatus
from workflow.calendar import estimated_years, statutory_years, years_without_days

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
    """Things an operator should fix: a current or next year without any statutory day, or one that is still
    the library's estimate."""
    missing = [f"the working calendar has no statutory holidays for {year}: working time would count them as "
               "workdays; run `flask calendar seed` or import the schedule through /api/v1/calendar"
               for year in years_without_days(db.session, years=statutory_years(now))]
    return missing + [f"the working calendar for {year} is the holiday library's estimate; import the official "
                      "schedule through /api/v1/calendar" for year in estimated_years(db.session)
                      if year <= now.year + 1]


# --- operational warnings (each its own check; /healthz lists what they say) -----------------------------

LAG_TICKS = 2  # a job this many of its intervals late is lagging
OUTBOX_MAX_AGE = timedelta(minutes=10)
DEAD_LETTER_WINDOW = timedelta(days=1)


def operational_warnings(*, now: datetime, intervals: dict[str, float], heads: set[str]) -> list[str]:
    """Scheduler lag past two ticks, an outbox older than ten minutes, dead letters of the last day, and
    migrations not at head."""
    return (scheduler_lag_warnings(now=now, intervals=intervals) + outbox_warnings(now=now)
            + dead_letter_warnings(now=now) + migration_warnings(heads=heads))


def job_lags(*, now: datetime) -> dict[str, float]:
    """Seconds since each job last ran (wall clock, whatever instant it ran as of)."""
    return {run.job_id: round((now - run.ran_at).total_seconds(), 1) for run in db.session.scalars(select(JobRun))}


def scheduler_lag_warnings(*, now: datetime, intervals: dict[str, float]) -> list[str]:
    """A job that has not run for more than two of its intervals (or never has)."""
    lags = job_lags(now=now)
    if not lags:
        return ["the scheduler has never run a job: start `flask scheduler run`"]
    found = []
    for job_id, every in intervals.items():
        lag = lags.get(job_id)
        if lag is None:
            found.append(f"scheduled job {job_id} has never run")
        elif lag > LAG_TICKS * every:
            found.append(f"scheduled job {job_id} last ran {lag:.0f} s ago; it runs every {every:g} s")
    return found


def outbox_backlog(*, now: datetime) -> tuple[int, float | None]:
    """How many outbox messages wait to be fanned out, and the age in seconds of the oldest (None: none)."""
    depth, oldest = db.session.execute(select(func.count(), func.min(OutboxMessage.created_at))
                                       .where(OutboxMessage.delivered_at.is_(None))).one()
    return depth, round((now - oldest).total_seconds(), 1) if oldest is not None else None


def outbox_warnings(*, now: datetime) -> list[str]:
    """An outbox message waiting longer than ten minutes: delivery is stuck or far behind."""
    depth, oldest = outbox_backlog(now=now)
    if oldest is None or oldest <= OUTBOX_MAX_AGE.total_seconds():
        return []
    return [f"the outbox holds {depth} undelivered messages, the oldest {oldest:.0f} s old"]


def deliveries_waiting(*, now: datetime) -> dict[str, int]:
    """Webhook deliveries pending, dead (dead letters), and dead within the last day."""
    counts = dict(db.session.execute(select(WebhookDelivery.status, func.count())
                                     .where(WebhookDelivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.DEAD)))
                                     .group_by(WebhookDelivery.status)).all())
    recent = db.session.scalar(select(func.count()).where(
        WebhookDelivery.status == DeliveryStatus.DEAD, WebhookDelivery.next_attempt_at > now - DEAD_LETTER_WINDOW))
    return {"deliveries_pending": counts.get(DeliveryStatus.PENDING, 0),
            "dead_letters": counts.get(DeliveryStatus.DEAD, 0), "dead_letters_last_day": recent}


def dead_letter_warnings(*, now: datetime) -> list[str]:
    """Webhook deliveries dead-lettered within the last day (a dead delivery's next_attempt_at is when it died)."""
    recent = deliveries_waiting(now=now)["dead_letters_last_day"]
    return [f"{recent} webhook deliveries were dead-lettered in the last day: see "
            "/api/v1/webhooks/{id}/deliveries?status=dead and redrive them"] if recent else []


def database_revisions() -> set[str]:
    """The migration revisions the database is at (none before the first `flask db upgrade`)."""
    try:
        with db.session.begin_nested():
            return set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    except DBAPIError:  # no alembic_version table: never migrated
        return set()


def migration_warnings(*, heads: set[str]) -> list[str]:
    """The database is not at the code's migration head (behind: run `flask db upgrade`; ahead: old code)."""
    current = database_revisions()
    if current == heads:
        return []
    return [f"the database is at migration {', '.join(sorted(current)) or 'none'} but the code expects "
            f"{', '.join(sorted(heads))}: run `flask db upgrade`"]
