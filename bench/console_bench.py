"""The read path at BENCH_SCALE problems (default 1,000,000): the console's dashboard and ledger first page
(target ≤ 100 ms) and the API's ledger as bench.scale_bench asks it, first page with 3 filters and page 500
(target p95 ≤ 20 ms).

Served by gunicorn (production settings, 2 workers) on a scratch PostgreSQL database, asked over one kept-alive
connection as the district supervisor with a signed session cookie: p50/p95 of the whole answer, which is the
server's time plus a loopback round trip.

    BENCH_SCALE=1000000 python -m bench.console_bench
    BENCH_DATABASE=name python -m bench.console_bench   # an existing bench database (python -m bench.data)

Generating 1,000,000 problems takes 10-20 minutes on a loaded 2-core machine (most of it linking recurrences),
so a database made once with `python -m bench.data --database NAME --size 1000000 --migrate` can be reused:
it is migrated to the head first and left in place.
"""

import contextlib
import os
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import psycopg

from bench import loadgen
from bench.common import (
    database_cpu,
    gunicorn,
    libpq_url,
    make_app,
    median,
    migrate,
    percentile,
    report,
    scratch_database,
    server_cpu,
    verdict,
)
from bench.data import add_problems, build_world

SCALE = int(os.environ.get("BENCH_SCALE", "1000000"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "40"))
TARGET_MS = 100
REUSE = os.environ.get("BENCH_DATABASE")


def _district_supervisor(app) -> int:
    """The supervisor of the root unit (whose scope is every problem), as build_world picked it."""
    from sqlalchemy import func, select

    from models import Unit, User
    from models.base import db
    with app.app_context():
        return db.session.scalars(select(User.id).join(Unit, Unit.id == User.unit_id)
                                  .where(User.role == "supervisor").order_by(func.length(Unit.path), User.id)).first()


def _cookie(app, user_id: int) -> str:
    """A signed console session for the district supervisor, as the login would set it."""
    from models import User
    from models.base import db
    with app.app_context():
        set_at = db.session.get(User, user_id).password_set_at
        serializer = app.session_interface.get_signing_serializer(app)
        value = serializer.dumps({"uid": user_id, "seen": time.time(),
                                  "pw": set_at.isoformat() if set_at else None})
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


def _latencies(port: int, raw: bytes, samples: int = SAMPLES) -> list[float]:
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


def _api_requests(app, database: str, user_id: int) -> dict[str, bytes]:
    """The API ledger's two requests of bench.scale_bench, with a bearer token for `user_id`."""
    from sqlalchemy import select

    from bench.data import NOW
    from bench.scale_bench import _deep_cursor
    from models import Category, Grid, User
    from models.base import db
    from workflow import auth
    with app.app_context():
        _, token = auth.issue_token(user=db.session.get(User, user_id), now=NOW, label="bench")
        grids = db.session.scalars(select(Grid.id).where(Grid.name.contains("压测网格")).order_by(Grid.id).limit(5))
        codes = db.session.scalars(select(Category.code).order_by(Category.id).limit(2))
        query = {"state": "assigned,rectifying,verifying", "category": ",".join(codes),
                 "grid_id": ",".join(map(str, grids)), "limit": 50}
        db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    return {"api_ledger_first_page": loadgen.request_bytes("GET", f"/api/v1/problems?{urlencode(query)}", headers),
            "api_ledger_page_500": loadgen.request_bytes(
                "GET", f"/api/v1/problems?{urlencode({'limit': 50, 'cursor': _deep_cursor(database, 25_000)})}",
                headers)}


@contextlib.contextmanager
def _database():
    """The bench database and its size: BENCH_DATABASE as it is, or a scratch one with BENCH_SCALE problems."""
    if REUSE:
        app = make_app(REUSE)
        migrate(app)
        with psycopg.connect(libpq_url(REUSE)) as conn:
            size = conn.execute("SELECT count(*) FROM problems").fetchone()[0]
        _compact_counts(app)
        yield REUSE, app, size
        return
    with scratch_database("console") as database:
        app = make_app(database)
        migrate(app)
        world = build_world(app)
        seconds = add_problems(libpq_url(database), world, first=1, count=SCALE)
        print(f"{SCALE} problems generated in {seconds:.1f} s", flush=True)
        _compact_counts(app)
        yield database, app, SCALE


def _compact_counts(app) -> None:
    """Fold the dashboard's count rows the triggers appended while the ledger was loaded, as the scheduler's
    `compact_counts` job does every minute in production (a freshly loaded 1M ledger has 600,000 of them)."""
    from models.base import db
    from workflow.ledger import dashboard
    with app.app_context():
        folded = dashboard.compact_counts(now=datetime.now(UTC))
        db.session.commit()
    print(f"dashboard counts: {folded} rows folded", flush=True)


def main() -> None:
    pages = {"dashboard": "/console/dashboard", "ledger_first_page": "/console/problems",
             "ledger_filtered": "/console/problems?state=rectifying&light=red"}
    with _database() as (database, app, size):
        supervisor = _district_supervisor(app)
        headers = {"Cookie": _cookie(app, supervisor)}
        requests = {name: loadgen.request_bytes("GET", path, headers) for name, path in pages.items()}
        requests |= _api_requests(app, database, supervisor)
        figures: dict = {"problems": size}
        with gunicorn(database, workers=2) as port:
            for name, raw in requests.items():
                _latencies(port, raw, samples=6)  # both workers compile the page's templates first
                app_cpu, db_cpu = server_cpu(port), database_cpu(database)
                took = _latencies(port, raw)
                # CPU per request does not depend on the neighbours as latency does (3 warm-up requests too).
                asked = len(took) + 3
                figures[f"{name}_p50_ms"] = round(median(took), 1)
                figures[f"{name}_p95_ms"] = round(percentile(took, 95), 1)
                figures[f"{name}_cpu_ms"] = {"app": round((server_cpu(port) - app_cpu) * 1000 / asked, 1),
                                             "db": round((database_cpu(database) - db_cpu) * 1000 / asked, 1)}
    for name in ("dashboard", "ledger_first_page"):
        figures[f"{name}_target"] = verdict(figures[f"{name}_p50_ms"], TARGET_MS, at_least=False)
    for name in ("api_ledger_first_page", "api_ledger_page_500"):
        figures[f"{name}_target"] = verdict(figures[f"{name}_p95_ms"], 20, at_least=False)
    report("console", figures)


if __name__ == "__main__":
    main()
