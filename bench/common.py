"""What every benchmark shares: a scratch PostgreSQL database, the app on it, a gunicorn server started and
stopped by PID, medians, and one place to print and keep the figures.

Environment: BENCH_DATABASE_URL (the server, default postgresql://postgres@127.0.0.1:5432/postgres; each
benchmark creates its own database there and drops it), BENCH_RUNS (runs per figure, default 3),
BENCH_SECONDS (seconds per HTTP run, default 8), BENCH_WORKERS / BENCH_THREADS (gunicorn).
"""

import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))  # the README's production setting: a sync worker per core
THREADS = int(os.environ.get("BENCH_THREADS", "1"))
RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR", ROOT / "bench" / "out"))
# production refuses a key shorter than 32 characters (config/settings.py::weak_secret)
BENCH_SECRET = "bench-only-secret-of-at-least-32-chars"


def server_url(database: str | None = None) -> str:
    url = make_url(SERVER).set(drivername="postgresql+psycopg")
    return url.set(database=database).render_as_string(hide_password=False) if database else \
        url.render_as_string(hide_password=False)


def libpq_url(database: str) -> str:
    """The same database as a plain libpq URL (for psql, pgbench and psycopg)."""
    return make_url(SERVER).set(drivername="postgresql", database=database).render_as_string(hide_password=False)


@contextlib.contextmanager
def scratch_database(prefix: str, *, production: bool = True):
    """Create a database of our own on the server; yield its name; drop it whatever happens.

    `production`: with the database settings the README recommends (jit off: compiling a report's
    expressions took ~60 ms of each ~300 ms statement at 200,000 problems and never paid back)."""
    name = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        if production:
            conn.execute(text(f'ALTER DATABASE "{name}" SET jit = off'))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_app(database: str):
    """The app on a scratch database, production config (pool sizes included), scheduler off."""
    os.environ.setdefault("SECRET_KEY", BENCH_SECRET)
    from app import create_app
    from config.settings import Production
    config = type("Bench", (Production,), {"SQLALCHEMY_DATABASE_URI": server_url(database),
                                           "SCHEDULER_ENABLED": False, "SECRET_KEY": BENCH_SECRET})
    return create_app(config)


def migrate(app) -> None:
    from flask_migrate import upgrade
    with app.app_context():
        upgrade(directory=str(app.extensions["migrate"].directory))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(database: str, *, workers: int = WORKERS, threads: int = THREADS, extra_env: dict | None = None):
    """Serve the app on 127.0.0.1:<free port> with production settings; yield the port; stop it by PID."""
    port = free_port()
    env = os.environ | {"DATABASE_URL": server_url(database), "RECTIFY_ENV": "production",
                        "SECRET_KEY": BENCH_SECRET, "SCHEDULER_ENABLED": "false"} | (extra_env or {})
    cmd = [str(VENV_BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
           "--log-level", "warning", "--backlog", "256"]
    if threads > 1:
        cmd += ["--threads", str(threads)]
    process = subprocess.Popen([*cmd, "app:create_app()"], cwd=ROOT, env=env)
    try:
        _wait_until_up(port, process)
        SERVERS[port] = process.pid
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


SERVERS: dict[int, int] = {}  # port -> gunicorn master PID


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(port: int) -> float:
    """CPU seconds used so far by the workers of the gunicorn serving `port`."""
    children = subprocess.run(["pgrep", "-P", str(SERVERS[port])], check=False, capture_output=True,
                              text=True).stdout.split()
    return sum(_cpu_seconds(int(pid)) for pid in children)


def database_cpu(database: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends connected to `database` (same machine)."""
    import psycopg
    with psycopg.connect(libpq_url(database)) as conn:
        pids = [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
    return sum(_cpu_seconds(pid) for pid in pids)


def _wait_until_up(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not come up")


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    """(seconds, result) of one call."""
    began = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - began, result


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    rank = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def report(name: str, figures: dict) -> None:
    """Print a benchmark's figures and keep them as JSON under bench/out/ for RESULTS.md."""
    print(f"\n== {name}")
    for key, value in figures.items():
        print(f"   {key}: {value}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")


def verdict(value: float, target: float, *, at_least: bool) -> str:
    met = value >= target if at_least else value <= target
    return f"{'met' if met else 'MISSED'} ({'≥' if at_least else '≤'} {target})"
