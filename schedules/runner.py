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
HEARTBEAT = "lease_heartbeat"


def _lead(app, now) -> bool:
    """Take or renew the lease; True while this process leads."""
    ttl = timedelta(seconds=app.config["SCHEDULER_LEASE_SECONDS"])
    leads = lease.acquire(holder=HOLDER, now=now, ttl=ttl)
    db.session.commit()
    return leads


def tick_if_leader(app, job_id: str | None) -> None:
    """The body of every scheduled job: lead, then run the job (None: only keep the lease fresh)."""
    with app.app_context():
        now = utcnow()
        try:
            if _lead(app, now) and job_id is not None:
                log.info("%s: %s", job_id, run_job(job_id, now=now))
        except Exception:
            db.session.rollback()
            log.exception("scheduled job %s failed; it runs again at its next tick", job_id)
        finally:
            db.session.remove()


def build(app, *, blocking: bool):
    """A scheduler with every job registered (not started), plus the lease heartbeat."""
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")
    options = {"replace_existing": True, "coalesce": True, "misfire_grace_time": None, "max_instances": 1,
               "next_run_time": utcnow()}
    scheduler.add_job(tick_if_leader, "interval", args=[app, None], id=HEARTBEAT,
                      seconds=app.config["SCHEDULER_TICK_SECONDS"], **options)
    for job_id, (_, interval) in JOBS.items():
        seconds = app.config["SCHEDULER_JOB_SECONDS"] or interval
        scheduler.add_job(tick_if_leader, "interval", args=[app, job_id], id=job_id, seconds=seconds, **options)
    return scheduler


def start_in_process(app) -> BackgroundScheduler:
    """The embedded default: the scheduler runs in a thread of the API process."""
    scheduler = build(app, blocking=False)
    scheduler.start()
    return scheduler
