"""The ledger, the idle escalation sweep and monthly statistics at 100,000 and then BENCH_SCALE problems.

One scratch database grows from 100,000 problems to BENCH_SCALE (default 1,000,000); at each size:
- ledger first page with 3 filters (state, category, grid_id) and page 500 of the ledger by cursor (limit 50,
  so 25,000 rows deep), over HTTP from one connection to gunicorn, as the district supervisor: p50/p95;
- the escalation sweep when nothing is due (workflow.escalation.firing.sweep, in process): median and p95;
- statistics for a month by unit (GET /api/v1/reports/summary?from=..&to=..&group_by=unit): p50/p95.

    BENCH_SCALE=1000000 python -m bench.scale_bench

The month's problems get realistic trails (bench.data.add_trails: four stage-ending events each), so the
statistics' stage times have the ~340,000 stages of a month at a million problems to read. To time only the
statistics on a database already built (migrated, with trails), name it: BENCH_DATABASE=stats_1m.
"""

import os
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import psycopg

from bench import loadgen
from bench.common import (
    gunicorn,
    libpq_url,
    make_app,
    median,
    migrate,
    percentile,
    report,
    scratch_database,
    verdict,
)
from bench.data import NOW, World, add_problems, add_trails, build_world

SCALE = int(os.environ.get("BENCH_SCALE", "1000000"))
FIRST = min(100_000, SCALE)
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "60"))
EXISTING = os.environ.get("BENCH_DATABASE")
MONTH_BY_UNIT = {"from": "2026-10-01", "to": "2026-10-31", "group_by": "unit"}


def _latencies(port: int, raw: bytes, samples: int = SAMPLES) -> list[float]:
    """Milliseconds of `samples` sequential requests on one kept-alive connection (after 3 to warm up)."""
    conn = loadgen.Connection(port)
    took = []
    for n in range(samples + 3):
        began = time.perf_counter()
        status, body = conn.request(raw)
        if status != 200:
            raise RuntimeError(f"{status}: {body[:300]!r}")
        if n >= 3:
            took.append((time.perf_counter() - began) * 1000)
    conn.close()
    return took


def _get(world: World, path: str, query: dict) -> bytes:
    return loadgen.request_bytes("GET", f"{path}?{urlencode(query)}",
                                 {"Authorization": f"Bearer {world.tokens['supervisor']}"})


def _deep_cursor(database: str, depth: int) -> str:
    from workflow.paging import encode_cursor
    with psycopg.connect(libpq_url(database)) as conn:
        at, last_id = conn.execute("SELECT reported_at, id FROM problems ORDER BY reported_at DESC, id DESC "
                                   "OFFSET %s LIMIT 1", (depth - 1,)).fetchone()
    return encode_cursor(at, last_id)


def _sweep_ms(app, samples: int = 30) -> list[float]:
    from models.base import db
    from workflow.escalation import firing
    took = []
    with app.app_context():
        for _ in range(samples):
            began = time.perf_counter()
            fired = firing.sweep(now=NOW)
            took.append((time.perf_counter() - began) * 1000)
            db.session.rollback()
            if fired:
                raise RuntimeError(f"the idle sweep fired {len(fired)} steps")
    return took


def measure(app, database: str, world: World, size: int) -> dict:
    grids = ",".join(str(grid_id) for grid_id, _ in world.grids[:5])
    first_page = _get(world, "/api/v1/problems", {"state": "assigned,rectifying,verifying",
                                                  "category": ",".join(world.category_codes[:2]),
                                                  "grid_id": grids, "limit": 50})
    deep = _get(world, "/api/v1/problems", {"limit": 50, "cursor": _deep_cursor(database, 500 * 50)})
    stats = _get(world, "/api/v1/reports/summary", MONTH_BY_UNIT)
    with gunicorn(database, workers=2) as port:
        ledger_first = _latencies(port, first_page)
        ledger_deep = _latencies(port, deep)
        summary = _latencies(port, stats, samples=max(10, SAMPLES // 4))
    sweep = _sweep_ms(app)
    with psycopg.connect(libpq_url(database)) as conn:
        open_count = conn.execute("SELECT count(*) FROM problems WHERE state NOT IN ('closed', 'cancelled')"
                                  ).fetchone()[0]
    figures = {"problems": size, "open": open_count,
               "ledger_first_page_p50_ms": round(median(ledger_first), 2),
               "ledger_first_page_p95_ms": round(percentile(ledger_first, 95), 2),
               "ledger_page_500_p50_ms": round(median(ledger_deep), 2),
               "ledger_page_500_p95_ms": round(percentile(ledger_deep, 95), 2),
               "sweep_idle_median_ms": round(median(sweep), 2), "sweep_idle_p95_ms": round(percentile(sweep, 95), 2),
               "summary_month_by_unit_p50_ms": round(median(summary), 1),
               "summary_month_by_unit_p95_ms": round(percentile(summary, 95), 1)}
    print(figures, flush=True)
    return figures


def summary_on(database: str) -> None:
    """Time only the month's statistics by unit on an existing database, as the district's first supervisor."""
    from sqlalchemy import func, select

    from models import Problem, User
    from models.base import db
    from workflow import auth
    app = make_app(database)
    with app.app_context():
        supervisor = db.session.scalars(select(User).where(User.role == "supervisor").order_by(User.id)).first()
        _, token = auth.issue_token(user=supervisor, now=datetime.now(UTC), label="scale bench")
        db.session.commit()
        size = db.session.scalar(select(func.count()).select_from(Problem))
    raw = loadgen.request_bytes("GET", f"/api/v1/reports/summary?{urlencode(MONTH_BY_UNIT)}",
                                {"Authorization": f"Bearer {token}"})
    with gunicorn(database, workers=2) as port:
        took = _latencies(port, raw, samples=max(10, SAMPLES // 4))
    print({"database": database, "problems": size, "summary_month_by_unit_p50_ms": round(median(took), 1),
           "summary_month_by_unit_p95_ms": round(percentile(took, 95), 1),
           "runs_ms": [round(t) for t in took]}, flush=True)


def _grown(database: str, world: World, first: int, count: int) -> None:
    seconds = add_problems(libpq_url(database), world, first=first, count=count)
    events, trail_seconds = add_trails(libpq_url(database))
    print(f"{count} problems generated in {seconds:.1f} s, {events} stage-ending events of the month's in "
          f"{trail_seconds:.1f} s", flush=True)


def main() -> None:
    if EXISTING:
        summary_on(EXISTING)
        return
    with scratch_database("scale") as database:
        app = make_app(database)
        migrate(app)
        world = build_world(app)
        _grown(database, world, 1, FIRST)
        small = measure(app, database, world, FIRST)
        large = small
        if SCALE > FIRST:
            _grown(database, world, FIRST + 1, SCALE - FIRST)
            large = measure(app, database, world, SCALE)
    figures = {"sizes": [small, large]}
    for key, target in (("ledger_first_page_p95_ms", 20), ("ledger_page_500_p95_ms", 20),
                        ("sweep_idle_median_ms", 20), ("summary_month_by_unit_p50_ms", 500)):
        met = verdict(large[key], target, at_least=False)
        figures[key] = f"{small[key]} → {large[key]} at {large['problems']}: {met}"
    report("scale", figures)


if __name__ == "__main__":
    main()
