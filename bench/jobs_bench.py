"""The scheduler's heavy ticks: an escalation sweep that fires about 10,000 due steps, and rounds materialized
for 1,000 plans × 3 windows (the 48-hour horizon: 2 days and the rest of today), then the idempotent rerun.

Each runs through schedules.jobs.run_job (the tick, its bookkeeping and its one commit), in process, against
a scratch PostgreSQL database with the demo escalation ladder. Medians over BENCH_RUNS runs (a fresh set of
due problems and a fresh set of plans each run).

    python -m bench.jobs_bench
"""

import itertools
import os
from datetime import date, timedelta

import psycopg

from bench.common import RUNS, libpq_url, make_app, median, migrate, report, scratch_database, timed, verdict
from bench.data import NOW, World, add_problems, build_world

DUE_STEPS = int(os.environ.get("BENCH_DUE_STEPS", "10000"))
PLANS = int(os.environ.get("BENCH_PLANS", "1000"))
TICKS = itertools.count()  # the scheduler's ticks only move forward: each sweep a second later
WINDOWS = [{"label": "早", "start": "06:30", "end": "08:30"}, {"label": "中", "start": "11:00", "end": "13:30"},
           {"label": "晚", "start": "17:30", "end": "21:30"}]


def _make_due(database: str, problems: int, offset: int) -> None:
    """Let `problems` open problems with running stage clocks be due for the sweep now (their steps long past)."""
    with psycopg.connect(libpq_url(database)) as conn:
        conn.execute("""
            UPDATE problems SET next_check_at = %(now)s - interval '1 minute'
            WHERE id IN (SELECT id FROM problems WHERE state IN ('assigned', 'rectifying', 'verifying')
                         AND stage_due_at IS NOT NULL ORDER BY id OFFSET %(offset)s LIMIT %(n)s)""",
                     {"now": NOW, "offset": offset, "n": problems})


def sweep_until_done(app) -> tuple[float, int, int]:
    """(seconds, steps fired, ticks) of sweeping as the scheduler does until nothing is due."""
    from schedules.jobs import run_job
    fired, ticks, seconds = 0, 0, 0.0
    with app.app_context():
        while True:
            took, summary = timed(run_job, "sweep_escalations", now=NOW + timedelta(seconds=next(TICKS)))
            seconds, ticks = seconds + took, ticks + 1
            count = int(summary.split()[1])
            fired += count
            if count == 0:
                return seconds, fired, ticks


def _steps_per_problem(app, database: str) -> float:
    _make_due(database, 200, offset=0)
    _, fired, _ = sweep_until_done(app)
    return fired / 200


def make_plans(app, world: World, run: int) -> None:
    from models.base import db
    from workflow.patrols import plans
    officers = [world.ids["officer"]]
    with app.app_context():
        for n in range(PLANS):
            grid = n % 10  # the east subdistrict's grids: the bench officer works there
            points = world.points[grid * 10:(grid + 1) * 10]
            plans.create_plan(
                actor=None, now=NOW, unit_id=world.grids[grid][1], name=f"压测计划 {run}-{n}",
                mode="dynamic" if n % 2 else "fixed_post", days="every_day", windows=WINDOWS,
                officer_ids=officers, point_ids=points, sample_size=5 if n % 2 else None,
                active_from=date(2026, 11, 1))
        db.session.commit()


def materialize(app) -> tuple[float, int]:
    from schedules.jobs import run_job
    with app.app_context():
        took, summary = timed(run_job, "materialize_rounds", now=NOW)
    return took, int(summary.split()[1])


def _pause_all(database: str) -> None:
    with psycopg.connect(libpq_url(database)) as conn:
        conn.execute("UPDATE patrol_plans SET paused = true")


def main() -> None:
    sweeps, plans = [], []
    with scratch_database("jobs") as database:
        app = make_app(database)
        migrate(app)
        world = build_world(app)
        add_problems(libpq_url(database), world, first=1, count=200_000)
        per_problem = _steps_per_problem(app, database)
        problems = max(1, round(DUE_STEPS / per_problem))
        print(f"about {per_problem:.2f} steps per due problem: {problems} problems due per run", flush=True)
        offset = 200
        for run in range(RUNS):
            _make_due(database, problems, offset)
            offset += problems
            seconds, fired, ticks = sweep_until_done(app)
            sweeps.append({"seconds": round(seconds, 2), "fired": fired, "ticks": ticks,
                           "per_10000_s": round(seconds * 10000 / max(fired, 1), 2)})
            print("sweep", sweeps[-1], flush=True)
            make_plans(app, world, run)
            first, made = materialize(app)
            again, remade = materialize(app)
            plans.append({"seconds": round(first, 2), "rounds": made, "rerun_seconds": round(again, 3),
                          "rerun_rounds": remade})
            print("materialize", plans[-1], flush=True)
            _pause_all(database)  # the next run measures its own plans only
    per_10000 = median([s["per_10000_s"] for s in sweeps])
    first, rerun = median([p["seconds"] for p in plans]), median([p["rerun_seconds"] for p in plans])
    report("jobs", {
        "sweep_fired_median": median([s["fired"] for s in sweeps]),
        "sweep_seconds_median": median([s["seconds"] for s in sweeps]),
        "sweep_seconds_per_10000_steps": f"{per_10000} {verdict(per_10000, 5, at_least=False)}",
        "materialize_rounds_median": median([p["rounds"] for p in plans]),
        "materialize_seconds": f"{first} {verdict(first, 3, at_least=False)}",
        "materialize_rerun_seconds": f"{rerun} {verdict(rerun, 0.5, at_least=False)}",
        "runs": {"sweep": sweeps, "materialize": plans}})


if __name__ == "__main__":
    main()
