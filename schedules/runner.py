"""APScheduler wiring: one interval job per concern, each run only by the lease holder."""

import logging
import os
import socket
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from models.base import db, utcnow
from ops import logs
from schedules import lease
from schedules.jobs import JOBS, run_job
from workflow.health import database_unavailable

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
    """The body of every scheduled job: lead, then run the job (None: only keep the lease fresh).

    Nothing escapes: a tick that fails (the database down or unreachable, a bug) is rolled back and logged,
    the process keeps running, and the job runs again at its next tick. The job records its progress only
    in the transaction that does the work, so a failed tick leaves nothing half done and the next one does
    it whole; the lease, not renewed while the database is away, is renewed (or taken back, if it expired
    and nobody else took it) by the first tick that reaches the database again."""
    with app.app_context(), logs.bound(tick_id=logs.new_id()):  # every line of this tick carries its id
        now = app.extensions.get("rectify_clock", utcnow)()  # tests inject the clock
        try:
            if _lead(app, now) and job_id is not None:
                run_job(job_id, now=now)  # logs what it did
        except Exception as error:
            _rollback_quietly()
            if database_unavailable(error):
                log.warning("scheduled job %s: database unavailable (%s); it runs again at its next tick",
                            job_id or HEARTBEAT, error.__class__.__name__)
            else:
                log.exception("scheduled job %s failed; it runs again at its next tick", job_id or HEARTBEAT)
        finally:
            try:
                db.session.remove()
            except Exception:  # a dead connection may fail to close: the pool discards it
                log.debug("closing the session after a failed tick failed", exc_info=True)


def _rollback_quietly() -> None:
    try:
        db.session.rollback()
    except Exception:  # the connection is already gone
        log.debug("rollback after a failed tick failed", exc_info=True)


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
