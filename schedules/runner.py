"""APScheduler wiring: one interval job per concern, each run only by the lease holder."""

import logging
import os
import socket
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from models.base import db, utcnow
from schedules import lease
from schedules.jobs import JOBS, run_job

log = logging.getLogger(__name__)
HOLDER = f"{socket.gethostname()}:{os.getpid()}"


def tick_if_leader(app, job_id: str) -> None:
    """The body of every scheduled job: lead (take or renew the lease), then run the job."""
    with app.app_context():
        now = utcnow()
        try:
            ttl = timedelta(seconds=app.config["SCHEDULER_LEASE_SECONDS"])
            leads = lease.acquire(holder=HOLDER, now=now, ttl=ttl)
            db.session.commit()
            if leads:
                log.info("%s: %s", job_id, run_job(job_id, now=now))
        except Exception:
            db.session.rollback()
            log.exception("scheduled job %s failed; it runs again at its next tick", job_id)
        finally:
            db.session.remove()


def build(app, *, blocking: bool):
    """A scheduler with every job registered (not started)."""
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")
    heartbeat = app.config["SCHEDULER_TICK_SECONDS"]
    for job_id, (_, interval) in JOBS.items():
        scheduler.add_job(tick_if_leader, "interval", args=[app, job_id], id=job_id,
                          seconds=min(interval, heartbeat), replace_existing=True, coalesce=True,
                          misfire_grace_time=None, max_instances=1, next_run_time=utcnow())
    return scheduler


def start_in_process(app) -> BackgroundScheduler:
    """The embedded default: the scheduler runs in a thread of the API process."""
    scheduler = build(app, blocking=False)
    scheduler.start()
    return scheduler
