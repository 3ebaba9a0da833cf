"""`flask scheduler run` and `flask scheduler tick --at`."""

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import AppGroup

from models.base import db, utcnow
from schedules import lease
from schedules.jobs import FAILED, run_all
from schedules.runner import HOLDER, build

scheduler_cli = AppGroup("scheduler", help="Run the scheduler, or one tick of every job.")


@scheduler_cli.command("run")
def run_command():
    """Run the scheduler in the foreground (safe on every host: only the lease holder acts)."""
    click.echo(f"scheduler {HOLDER} running; Ctrl-C stops it")
    try:
        build(current_app._get_current_object(), blocking=True).start()
    except (KeyboardInterrupt, SystemExit):
        lease.release(holder=HOLDER)  # let a standby host lead at once
        db.session.commit()


@scheduler_cli.command("tick")
@click.option("--at", "at", default=None, help="ISO 8601 instant with offset; default now.")
def tick_command(at):
    """Run every job once as of AT and print what each did; exit 1 when any failed (after running the rest)."""
    now = _parse_at(at) if at else utcnow()
    summaries = run_all(now=now, ran_at=utcnow())
    for job_id, summary in summaries.items():
        click.echo(f"{job_id}: {summary}", err=summary.startswith(FAILED))
    if failed := [job_id for job_id, summary in summaries.items() if summary.startswith(FAILED)]:
        click.echo(f"{len(failed)} of {len(summaries)} jobs failed: {', '.join(failed)}", err=True)
        raise SystemExit(1)


def _parse_at(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("not an ISO 8601 instant", param_hint="--at") from None
    if at.tzinfo is None:
        raise click.BadParameter("give an offset, e.g. 2026-11-26T08:00:00+08:00", param_hint="--at")
    return at.astimezone(UTC)
