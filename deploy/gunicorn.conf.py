"""gunicorn for Rectify: `gunicorn -c deploy/gunicorn.conf.py` (the README's Production section).

Sync workers, one per core (bench/RESULTS.md: more only add context switches). The app writes one access
line per request itself (with its request id), so gunicorn's access log is off. Metrics: every worker, and
the scheduler process on this host, keep their counts in PROMETHEUS_MULTIPROC_DIR; /metrics sums them.
"""

import multiprocessing
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

wsgi_app = "app:create_app()"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", str(multiprocessing.cpu_count())))
worker_class = "sync"
timeout = 60  # a monthly statistics page at 1M problems takes ~0.2 s; an XLSX export of 200k rows much longer
graceful_timeout = 30
chdir = str(ROOT)
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
if os.environ.get("LOG_FORMAT", "json" if os.environ.get("RECTIFY_ENV") == "production" else "text") == "json":
    logconfig_dict = {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"json": {"()": "ops.logs.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "loggers": {"gunicorn.error": {"handlers": ["stderr"], "level": loglevel.upper(), "propagate": False}},
        "root": {"level": loglevel.upper(), "handlers": []},  # the app sets the root's handler (ops.logs)
    }

# Shared by the workers and the scheduler process; they must agree, so it is set before any worker starts.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(ROOT / "instance" / "prometheus"))
METRICS = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
COUNT_FILE = re.compile(r".*_(\d+)\.db")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True


def on_starting(server):
    """Start the counts afresh: forget the files of processes gone (a running scheduler keeps its own)."""
    METRICS.mkdir(parents=True, exist_ok=True)
    for path in METRICS.glob("*.db"):
        match = COUNT_FILE.fullmatch(path.name)
        if match and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)


def child_exit(server, worker):
    """A worker gone: its live gauges (pool connections) stop counting; its counters stay in the sums."""
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid, str(METRICS))
