"""The leader lease: one row per name; the holder of an unexpired lease is the one scheduler that acts."""

from datetime import datetime, timedelta

from sqlalchemy import or_, update

from models import SchedulerLease
from models.base import db, upsert
from workflow.health import LEASE


def acquire(*, holder: str, now: datetime, ttl: timedelta, name: str = LEASE) -> bool:
    """Take or renew the lease; True when `holder` leads until now + ttl (caller commits)."""
    expires = now + ttl
    renewed = db.session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name,
               or_(SchedulerLease.holder == holder, SchedulerLease.expires_at < now))
        .values(holder=holder, expires_at=expires)
        .returning(SchedulerLease.name)
        .execution_options(synchronize_session=False)
    ).first()
    if renewed is not None:
        return True
    inserted = db.session.execute(
        upsert(SchedulerLease).values(name=name, holder=holder, expires_at=expires)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(SchedulerLease.name)
    ).first()
    return inserted is not None


def release(*, holder: str, name: str = LEASE) -> None:
    """Give the lease up so another host can lead at once (caller commits)."""
    db.session.execute(update(SchedulerLease).where(SchedulerLease.name == name, SchedulerLease.holder == holder)
                       .values(expires_at=datetime(2000, 1, 1).astimezone())
                       .execution_options(synchronize_session=False))


def current(name: str = LEASE) -> SchedulerLease | None:
    return db.session.get(SchedulerLease, name)
