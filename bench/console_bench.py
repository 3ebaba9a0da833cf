"""The console's dashboard and ledger first page at BENCH_SCALE problems (default 1,000,000), target ≤ 100 ms.

Served by gunicorn (production settings, 2 workers) on a scratch PostgreSQL database, asked over one kept-alive
connection as the district supervisor with a signed session cookie: p50/p95 of the whole answer, which is the
server's time plus a loopback round trip.

    BENCH_SCALE=1000000 python -m bench.console_bench
"""

import os
import time

from bench import loadgen
from bench.common import gunicorn, libpq_url, make_app, median, migrate, percentile, report, scratch_database, verdict
from bench.data import World, add_problems, build_world

SCALE = int(os.environ.get("BENCH_SCALE", "1000000"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "40"))
TARGET_MS = 100


def _cookie(app, world: World) -> str:
    """A signed console session for the district supervisor, as the login would set it."""
    from models import User
    from models.base import db
    with app.app_context():
        set_at = db.session.get(User, world.ids["supervisor"]).password_set_at
        serializer = app.session_interface.get_signing_serializer(app)
        value = serializer.dumps({"uid": world.ids["supervisor"], "seen": time.time(),
                                  "pw": set_at.isoformat() if set_at else None})
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


def _latencies(port: int, raw: bytes) -> list[float]:
    conn = loadgen.Connection(port)
    took = []
    for n in range(SAMPLES + 3):
        began = time.perf_counter()
        status, body = conn.request(raw)
        if status != 200:
            raise RuntimeError(f"{status}: {body[:300]!r}")
        if n >= 3:
            took.append((time.perf_counter() - began) * 1000)
    conn.close()
    return took


def main() -> None:
    with scratch_database("console") as database:
        app = make_app(database)
        migrate(app)
        world = build_world(app)
        seconds = add_problems(libpq_url(database), world, first=1, count=SCALE)
        print(f"{SCALE} problems generated in {seconds:.1f} s", flush=True)
        headers = {"Cookie": _cookie(app, world)}
        pages = {"dashboard": "/console/dashboard", "ledger_first_page": "/console/problems",
                 "ledger_filtered": "/console/problems?state=rectifying&light=red"}
        figures: dict = {"problems": SCALE}
        with gunicorn(database, workers=2) as port:
            for name, path in pages.items():
                took = _latencies(port, loadgen.request_bytes("GET", path, headers))
                figures[f"{name}_p50_ms"] = round(median(took), 1)
                figures[f"{name}_p95_ms"] = round(percentile(took, 95), 1)
        for name in ("dashboard", "ledger_first_page"):
            figures[f"{name}_target"] = verdict(figures[f"{name}_p50_ms"], TARGET_MS, at_least=False)
    report("console", figures)


if __name__ == "__main__":
    main()
