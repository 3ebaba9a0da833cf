"""The scheduled jobs: thin ticks that ask the database what is due as of `now`."""

import logging
import time as clock
from collections.abc import Callable
from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import current_app

from models import JobRun
from models.base import db
from ops import logs, metrics
from workflow import audit, calendar, idempotency
from workflow.escalation import firing
from workflow.inspections import ladder, tasks
from workflow.ledger import dashboard, unit_reports
from workflow.notifications import delivery, digest, mail, targets
from workflow.patrols import rounds

log = logging.getLogger(__name__)


def materialize_rounds(now: datetime) -> str:
    """Make the rounds of every plan up to the horizon (48 h); passed windows are recorded missed."""
    return f"made {rounds.materialize_rounds(now=now)} rounds"


def advance_rounds(now: datetime) -> str:
    """Open rounds whose window began; miss those nobody checked in to by the end plus grace; close as
    incomplete those started and never completed by then."""
    counts = rounds.advance_rounds(now=now)
    return f"opened {counts['opened']}, missed {counts['missed']}, closed {counts['incomplete']} incomplete rounds"


def sweep_escalations(now: datetime) -> str:
    """Fire every escalation step due by now, each once, and say which."""
    fired = firing.sweep(now=now)
    return f"fired {len(fired)}" + "".join(f"\n  - {line}" for line in fired)


def deliver_outbox(now: datetime) -> str:
    """Fan the outbox out to webhooks and send what is due (inbox items are written with their cause); the
    sending commits as it goes (claims, results), with no transaction open while a receiver is waited on."""
    config = current_app.config
    fanned = delivery.fan_out(now=now, base_url=config["PUBLIC_BASE_URL"])
    db.session.commit()  # the fan-out is kept even if a send below fails badly
    counts = delivery.deliver(now=now, allow_private=config["WEBHOOK_ALLOW_PRIVATE"], trusted=_trusted(config),
                              smtp=_smtp(config))
    return f"fanned out {fanned} messages; delivered {counts['delivered']}, failed {counts['failed']}, " \
           f"dead {counts['dead']}"


def _trusted(config) -> tuple[str, ...]:
    """Development's own WeCom stand-in (api/devecho.py), which the demo's robot points at: the one private
    address a delivery may reach without WEBHOOK_ALLOW_PRIVATE."""
    return (targets.dev_echo_url(config["RUN_HOST"], config["RUN_PORT"]),) if config["DEV_ROBOT_ECHO"] else ()


def _smtp(config) -> "mail.Smtp | None":
    if not config.get("SMTP_HOST"):
        return None
    return mail.Smtp(host=config["SMTP_HOST"], port=config["SMTP_PORT"], username=config["SMTP_USERNAME"],
                     password=config["SMTP_PASSWORD"], sender=config["SMTP_FROM"], starttls=config["SMTP_STARTTLS"],
                     ca_file=config.get("SMTP_CA_FILE") or None)


def purge_idempotency(now: datetime) -> str:
    """Forget Idempotency-Key records older than their keep time."""
    return f"purged {idempotency.purge(now=now)} expired idempotency records"


def make_unit_reports(now: datetime) -> str:
    """Make each unit's daily report for its local yesterday (and on Mondays its weekly one), once each."""
    counts = unit_reports.make_due_reports(now=now)
    return f"made {counts['made']} unit reports" + \
        (f"; {counts['failed']} failed (tried again next tick)" if counts["failed"] else "")


def anchor_audit(now: datetime) -> str:
    """Once a local day, send the digest of every problem trail's head out (audit.anchor webhook, log)."""
    tz = ZoneInfo(current_app.config["RECTIFY_TIMEZONE"])
    day_start = datetime.combine(now.astimezone(tz).date(), time(), tzinfo=tz)
    heads = audit.anchor(now=now, day_start=day_start)
    return "anchored today already" if heads is None else \
        f"anchored {heads['digest']} over {heads['problems']} trails as of {heads['as_of']}"


def plan_inspection_tasks(now: datetime) -> str:
    """Make the re-inspections of orders past their deadline and the re-checks ahead of expiries, once each."""
    made = tasks.plan_tasks(now=now)
    return f"made {made['reinspections']} re-inspections, {made['rechecks']} expiry re-checks"


def relax_ladder(now: datetime) -> str:
    """Take a step down the enforcement ladder for the parties that stayed clean long enough."""
    stepped = ladder.relax(now=now)
    return f"stepped down {len(stepped)}" + "".join(f"\n  - {line}" for line in stepped)


def send_digests(now: datetime) -> str:
    """At 08:00 local on working days, each supervisor's daily digest to their inbox and the unit's channels."""
    return f"sent {digest.send_digests(now=now)} daily digests"


def keep_calendar(now: datetime) -> str:
    """Make sure the current and next year's statutory holidays and make-up workdays are stored (idempotent)."""
    return f"wrote {calendar.keep_calendar(db.session, now=now)} calendar rows"


def compact_counts(now: datetime) -> str:
    """Fold the rows the triggers appended to the dashboard's counts of open problems into one per key."""
    return f"folded {dashboard.compact_counts(now=now)} count rows"


# job id -> (tick, interval in seconds). Later jobs (rounds, escalation, outbox) join this table.
JOBS: dict[str, tuple[Callable[[datetime], str], int]] = {
    "materialize_rounds": (materialize_rounds, 300),
    "advance_rounds": (advance_rounds, 60),
    "sweep_escalations": (sweep_escalations, 60),
    "deliver_outbox": (deliver_outbox, 15),
    "purge_idempotency": (purge_idempotency, 3600),
    "make_unit_reports": (make_unit_reports, 600),
    "anchor_audit": (anchor_audit, 3600),
    "plan_inspection_tasks": (plan_inspection_tasks, 300),
    "relax_ladder": (relax_ladder, 3600),
    "send_digests": (send_digests, 300),
    "keep_calendar": (keep_calendar, 3600),
    "compact_counts": (compact_counts, 60),
}


def run_job(job_id: str, *, now: datetime, ran_at: datetime | None = None) -> str:
    """Run one job as of `now` (at wall-clock `ran_at`) and record it, in one transaction; log and count it.

    Ticks only move forward: a `now` earlier than the job's last tick runs nothing."""
    tick, _ = JOBS[job_id]
    started = clock.perf_counter()
    last = db.session.get(JobRun, job_id)
    if last is not None and last.last_tick_at > now:
        db.session.rollback()
        metrics.observe_job(job_id, "skipped", 0)
        return f"skipped: already ran as of {last.last_tick_at.isoformat()}"
    try:
        summary = tick(now)
        row = last or JobRun(job_id=job_id)
        row.last_tick_at, row.ran_at, row.summary = now, ran_at or now, summary
        db.session.add(row)
        db.session.commit()
    except Exception:
        db.session.rollback()
        metrics.observe_job(job_id, "failed", 0)
        raise
    seconds = clock.perf_counter() - started
    metrics.observe_job(job_id, "ok", seconds)
    log.info("%s as of %s: %s", job_id, now.isoformat(), summary,
             extra={"job": job_id, "as_of": now.isoformat(), "duration_ms": round(seconds * 1000, 2)})
    return summary


FAILED = "failed: "


def run_all(*, now: datetime, ran_at: datetime | None = None) -> dict[str, str]:
    """Run every job once as of `now`, each under a tick id of its own and on its own: a job that fails is
    logged and summarised as "failed: <error>", and the others still run (delivery, reports, the anchor)."""
    summaries = {}
    for job_id in JOBS:
        with logs.bound(tick_id=logs.new_id()):
            try:
                summaries[job_id] = run_job(job_id, now=now, ran_at=ran_at)
            except Exception as error:  # one job's failure must not skip the jobs after it
                log.exception("%s as of %s failed", job_id, now.isoformat(),
                              extra={"job": job_id, "as_of": now.isoformat()})
                summaries[job_id] = f"{FAILED}{type(error).__name__}: {error}"[:500]
    return summaries


def intervals(config) -> dict[str, float]:
    """Seconds between runs of each job under `config` (SCHEDULER_JOB_SECONDS, for tests and demos, sets all)."""
    return {job_id: float(config.get("SCHEDULER_JOB_SECONDS") or every) for job_id, (_, every) in JOBS.items()}
