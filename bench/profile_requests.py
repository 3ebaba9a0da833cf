"""Where a request's time goes: statements per request and a cProfile of N transitions and reports, in process.

Complements py-spy on the live server (`py-spy record -o out.svg --pid <gunicorn worker>` while
bench.http_bench runs): this one needs no root and prints the statements each request sends.

    python -m bench.profile_requests [N]
"""

import cProfile
import pstats
import sys
import time
from collections import Counter

from sqlalchemy import event

from bench.common import libpq_url, make_app, migrate, scratch_database
from bench.data import add_problems, build_world


class StatementLog:
    """Counts the statements sent to the database while active."""

    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(" ".join(statement.split())[:110])


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with scratch_database("profile") as database:
        app = make_app(database)
        migrate(app)
        world = build_world(app)
        add_problems(libpq_url(database), world, first=1, count=20 * n)
        client = app.test_client()
        sup = {"Authorization": f"Bearer {world.tokens['supervisor']}", "If-Match": '"1"'}
        assign = {"action": "assign", "unit_id": world.ids["squad"], "handler_id": world.ids["handler"]}
        ids = [i for i in range(1, 20 * n) if i % 20 in (8, 9)][:n]
        from models.base import db
        with app.app_context():
            engine = db.engine
        with StatementLog(engine) as log:
            response = client.post(f"/api/v1/problems/{ids[0]}/actions", json=assign,
                                   headers=sup | {"Idempotency-Key": f"p-{ids[0]}"})
        print(response.status_code, f"{len(log.statements)} statements for one transition:")
        print("\n".join(f"  {s}" for s in log.statements))
        officer = {"Authorization": f"Bearer {world.tokens['officer']}", "Idempotency-Key": "r-0"}
        body = {"category_code": world.category_codes[0], "point_id": world.points[0], "title": "压测"}
        with StatementLog(engine) as log:
            response = client.post("/api/v1/problems", json=body, headers=officer)
        print(response.status_code, response.get_data(as_text=True)[:300] if response.status_code >= 400 else "",
              f"{len(log.statements)} statements for one report:")
        print("\n".join(f"  {s}" for s in log.statements))
        half = len(ids) // 2
        cpu, began = time.process_time(), time.perf_counter()
        for problem_id in ids[1:half]:
            client.post(f"/api/v1/problems/{problem_id}/actions", json=assign,
                        headers=sup | {"Idempotency-Key": f"p-{problem_id}"})
        cpu, took = time.process_time() - cpu, time.perf_counter() - began
        print(f"{half - 1} transitions unprofiled: {1000 * cpu / (half - 1):.2f} ms of this process's CPU each "
              f"(the test client included, PostgreSQL not), {1000 * took / (half - 1):.2f} ms wall each")
        profiler = cProfile.Profile(time.process_time)
        began = time.perf_counter()
        with StatementLog(engine) as log:
            profiler.enable()
            for problem_id in ids[half:]:
                client.post(f"/api/v1/problems/{problem_id}/actions", json=assign,
                            headers=sup | {"Idempotency-Key": f"p-{problem_id}"})
            profiler.disable()
        took = time.perf_counter() - began
        print(f"{len(ids) - half} transitions profiled (CPU time) in {took:.2f} s; "
              f"statements {Counter(s.split()[0] for s in log.statements)}")
        stats = pstats.Stats(profiler)
        print(f"per transition: {len(log.statements) / (len(ids) - half):.2f} statements, "
              f"{stats.total_calls / (len(ids) - half):.0f} function calls")
        print_by_package(stats)
        stats.sort_stats("cumulative").print_stats(45)
        profile_reports(client, engine, world, n)


def spatial_codes(app) -> list[str]:
    """The codes of the active categories reported at a place (a non-spatial one at a point is a 422)."""
    from sqlalchemy import select

    from models import Category
    from models.base import db
    with app.app_context():
        return list(db.session.scalars(select(Category.code).where(Category.spatial, Category.active)
                                       .order_by(Category.id)))


def profile_reports(client, engine, world, n: int) -> None:
    """N reports (POST /problems) by the officer at the bench points: CPU per report unprofiled, then statements
    and function calls per report under cProfile (issue 23)."""
    officer = {"Authorization": f"Bearer {world.tokens['officer']}"}
    codes, points = spatial_codes(client.application), world.points

    def post(i: int):
        body = {"category_code": codes[i % len(codes)], "point_id": points[i % len(points)], "title": f"压测 {i}"}
        return client.post("/api/v1/problems", json=body, headers=officer | {"Idempotency-Key": f"r-{i}"})

    half = n // 2
    cpu, began = time.process_time(), time.perf_counter()
    statuses = Counter(post(i).status_code for i in range(1, half))
    cpu, took = time.process_time() - cpu, time.perf_counter() - began
    print(f"{half - 1} reports unprofiled {dict(statuses)}: {1000 * cpu / (half - 1):.2f} ms of this process's CPU "
          f"each (the test client included, PostgreSQL not), {1000 * took / (half - 1):.2f} ms wall each")
    profiler = cProfile.Profile(time.process_time)
    with StatementLog(engine) as log:
        profiler.enable()
        for i in range(half, n):
            post(i)
        profiler.disable()
    stats = pstats.Stats(profiler)
    print(f"{n - half} reports profiled: {len(log.statements) / (n - half):.1f} statements and "
          f"{stats.total_calls / (n - half):.0f} function calls per report; "
          f"statements {Counter(s.split()[0] for s in log.statements)}")
    print_by_package(stats)
    stats.sort_stats("cumulative").print_stats(45)


PACKAGES = {"sqlalchemy": "SQLAlchemy", "psycopg": "psycopg", "flask": "Flask/Werkzeug (+ test client)",
            "werkzeug": "Flask/Werkzeug (+ test client)", "marshmallow": "marshmallow/webargs/flask-smorest",
            "webargs": "marshmallow/webargs/flask-smorest", "flask_smorest": "marshmallow/webargs/flask-smorest",
            "api": "our code (api, workflow, models)", "workflow": "our code (api, workflow, models)",
            "models": "our code (api, workflow, models)", "ops": "our code (api, workflow, models)"}


def print_by_package(stats: pstats.Stats) -> None:
    """Where the profiled CPU went, by the package of the function that spent it (own time, not cumulative)."""
    spent: Counter = Counter()
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():
        parts = filename.replace("\\", "/").split("/")
        root = parts[parts.index("site-packages") + 1] if "site-packages" in parts else next(
            (part for part in parts if part in ("api", "workflow", "models", "ops")), "")
        spent[PACKAGES.get(root, "the standard library and the rest")] += own
    total = sum(spent.values()) or 1
    print("own CPU by package: " + "; ".join(f"{name} {100 * value / total:.0f} %"
                                             for name, value in spent.most_common()))


if __name__ == "__main__":
    main()
