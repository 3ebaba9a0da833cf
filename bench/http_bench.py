"""Transitions per second over full HTTP, against the same server's /livez and pgbench, and report latency.

One scratch database with the bench world and BENCH_HTTP_SIZE problems (default 300,000: a pool of problems
waiting for assign or accept), gunicorn with the production settings, the load from other processes on
127.0.0.1, 8 connections. Per run, interleaved so that noise hits every figure alike: /livez, transitions
(each request a different problem: POST /problems/{id}/actions with Authorization, If-Match and
Idempotency-Key; assign by the supervisor, accept by the handler), pgbench TPC-B-like with 8 clients on its
own scratch database, then reports (POST /problems). Medians over BENCH_RUNS runs.

    python -m bench.http_bench
"""

import json
import os
import re
import subprocess

import psycopg

from bench import loadgen
from bench.common import (
    RUNS,
    SECONDS,
    THREADS,
    WORKERS,
    database_cpu,
    gunicorn,
    libpq_url,
    make_app,
    median,
    migrate,
    report,
    scratch_database,
    server_cpu,
    verdict,
)
from bench.data import World, add_problems, build_world

SIZE = int(os.environ.get("BENCH_HTTP_SIZE", "300000"))
CONNECTIONS = 8
PGBENCH = os.environ.get("PGBENCH", "/usr/bin/pgbench")


def livez_factory():
    raw = loadgen.request_bytes("GET", "/livez")
    return lambda index, n: raw


def transition_factory(world: World, pool: list[tuple[int, str]], run: int):
    """Connection k takes every CONNECTIONS-th problem of this run's share of the pool."""
    share = len(pool) // RUNS
    mine = pool[run * share:(run + 1) * share]
    assign = json.dumps({"action": "assign", "unit_id": world.ids["squad"], "handler_id": world.ids["handler"]})
    bodies = {"reported": (assign.encode(), world.tokens["supervisor"], '"1"'),
              "assigned": (b'{"action": "accept"}', world.tokens["handler"], '"2"')}

    def factory(index: int, n: int) -> bytes | None:
        position = n * CONNECTIONS + index
        if position >= len(mine):
            return None
        problem_id, state = mine[position]
        body, token, version = bodies[state]
        return loadgen.request_bytes("POST", f"/api/v1/problems/{problem_id}/actions", {
            "Authorization": f"Bearer {token}", "Content-Type": "application/json", "If-Match": version,
            "Idempotency-Key": f"bench-{run}-{problem_id}"}, body)

    return factory


def report_factory(world: World, codes: list[str], run: int):
    """Reports at the bench points, of the categories reported at a place (`codes`: a non-spatial one is a 422)."""
    points = world.points

    def factory(index: int, n: int) -> bytes:
        body = json.dumps({"category_code": codes[n % len(codes)], "point_id": points[(n * 8 + index) % len(points)],
                           "title": f"压测上报 {run}-{index}-{n}", "severity": "normal"}).encode()
        return loadgen.request_bytes("POST", "/api/v1/problems", {
            "Authorization": f"Bearer {world.tokens['officer']}", "Content-Type": "application/json",
            "Idempotency-Key": f"bench-report-{run}-{index}-{n}"}, body)

    return factory


def measured(port: int, database: str, factory) -> dict:
    """One load run, with the CPU milliseconds per successful request spent by gunicorn and by PostgreSQL:
    the cost of a request whatever else the machine is doing (throughput on a shared machine is not)."""
    app_cpu, db_cpu = server_cpu(port), database_cpu(database)
    result = loadgen.run(port=port, factory=factory, connections=CONNECTIONS, duration=SECONDS)
    app_cpu, db_cpu = server_cpu(port) - app_cpu, database_cpu(database) - db_cpu
    ok = max(result.ok, 1)
    return result.summary() | {"app_cpu_ms": round(app_cpu * 1000 / ok, 3), "db_cpu_ms": round(db_cpu * 1000 / ok, 3)}


def pgbench_tps(database: str) -> float:
    out = subprocess.run([PGBENCH, "-c", "8", "-j", "2", "-T", str(int(SECONDS)), "-n", libpq_url(database)],
                         check=True, capture_output=True, text=True).stdout
    return float(re.search(r"tps = ([0-9.]+)", out).group(1))


def spatial_codes(database: str) -> list[str]:
    with psycopg.connect(libpq_url(database)) as conn:
        rows = conn.execute("SELECT code FROM categories WHERE spatial AND active ORDER BY id").fetchall()
    return [code for (code,) in rows]


def pool_of(database: str) -> list[tuple[int, str]]:
    with psycopg.connect(libpq_url(database)) as conn:
        rows = conn.execute("SELECT id, state FROM problems WHERE state IN ('reported', 'assigned') "
                            "ORDER BY (id * 2654435761) % 1000003").fetchall()
    return [(problem_id, state) for problem_id, state in rows]


def main() -> None:
    with scratch_database("http") as database, scratch_database("pgbench", production=False) as pgbench_db:
        subprocess.run([PGBENCH, "-i", "-s", "10", "-q", libpq_url(pgbench_db)], check=True, capture_output=True)
        app = make_app(database)
        migrate(app)
        world = build_world(app)
        add_problems(libpq_url(database), world, first=1, count=SIZE)
        pool, codes = pool_of(database), spatial_codes(database)
        runs = []
        with gunicorn(database) as port:
            loadgen.run(port=port, factory=livez_factory(), connections=CONNECTIONS, duration=2)  # warm up
            for run in range(RUNS):
                livez = measured(port, database, livez_factory())
                moves = measured(port, database, transition_factory(world, pool, run))
                tps = pgbench_tps(pgbench_db)
                reports = measured(port, database, report_factory(world, codes, run))
                runs.append({"livez": livez, "transitions": moves, "pgbench_tps": tps, "reports": reports})
                print(f"run {run + 1}: livez {livez['rate']:.0f}/s ({livez['app_cpu_ms']} ms CPU each), "
                      f"transitions {moves['rate']:.0f}/s ({moves['app_cpu_ms']} ms app + {moves['db_cpu_ms']} ms "
                      f"database CPU each; statuses {moves['statuses']}), pgbench {tps:.0f} tps, reports "
                      f"{reports['rate']:.0f}/s p50 {reports['p50_ms']} ms p99 {reports['p99_ms']} ms", flush=True)
    summarize(runs)


def summarize(runs: list[dict]) -> None:
    livez = median([r["livez"]["rate"] for r in runs])
    moves = median([r["transitions"]["rate"] for r in runs])
    tps = median([r["pgbench_tps"] for r in runs])
    vs_livez = median([r["transitions"]["rate"] / r["livez"]["rate"] for r in runs])
    vs_pgbench = median([r["transitions"]["rate"] / r["pgbench_tps"] for r in runs])
    p99 = median([r["reports"]["p99_ms"] for r in runs])
    report("http", {
        "server": f"gunicorn --workers {WORKERS}" + (f" --threads {THREADS}" if THREADS > 1 else ""),
        "connections": CONNECTIONS, "seconds_per_run": SECONDS, "runs": len(runs),
        "livez_rps": livez, "transitions_rps": moves, "pgbench_tps": tps,
        "transitions_vs_livez": f"{vs_livez:.3f} {verdict(vs_livez, 0.30, at_least=True)}",
        "transitions_vs_pgbench": f"{vs_pgbench:.3f} {verdict(vs_pgbench, 0.30, at_least=True)}",
        "transition_p50_ms": median([r["transitions"]["p50_ms"] for r in runs]),
        "livez_app_cpu_ms": median([r["livez"]["app_cpu_ms"] for r in runs]),
        "transition_app_cpu_ms": median([r["transitions"]["app_cpu_ms"] for r in runs]),
        "transition_db_cpu_ms": median([r["transitions"]["db_cpu_ms"] for r in runs]),
        "transitions_vs_livez_by_cpu": round(median([r["livez"]["app_cpu_ms"] / r["transitions"]["app_cpu_ms"]
                                                     for r in runs]), 3),
        "report_app_cpu_ms": median([r["reports"]["app_cpu_ms"] for r in runs]),
        "report_db_cpu_ms": median([r["reports"]["db_cpu_ms"] for r in runs]),
        "transition_p99_ms": median([r["transitions"]["p99_ms"] for r in runs]),
        "report_rps": median([r["reports"]["rate"] for r in runs]),
        "report_p50_ms": median([r["reports"]["p50_ms"] for r in runs]),
        "report_p99_ms": f"{p99} {verdict(p99, 25, at_least=False)}",
        "per_run": runs})


if __name__ == "__main__":
    main()
