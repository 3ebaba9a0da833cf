"""Prometheus metrics: what each process counted (requests, transitions, reports, firings, rounds, deliveries,
ticks, its pool) plus, at scrape time, what the database holds (outbox, dead letters, the lease, tick lag).

Counts of domain effects come from `workflow.tally`: noted inside the transaction that made them and added
here only when it commits, so a scrape agrees with the database. With PROMETHEUS_MULTIPROC_DIR set (gunicorn
workers and the scheduler process on one host share it), prometheus-client keeps each process's counts in
that directory and `/metrics` sums them; without it (the embedded `make run`), this process's own.
"""

from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event

from models.base import db
from workflow import health, tally
from workflow.problems.lifecycle import TRANSITIONS

HTTP_REQUESTS = Counter("rectify_http_requests_total", "HTTP requests answered, by route template and status.",
                        ["method", "route", "status"])
HTTP_LATENCY = Histogram("rectify_http_request_duration_seconds", "Time to answer a request, by route and status.",
                         ["method", "route", "status"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
JOB_RUNS = Counter("rectify_scheduler_job_runs_total", "Scheduled job runs by this host's schedulers, by result "
                   "(ok, skipped: not the leader or not forward, failed).", ["job", "result"])
JOB_LATENCY = Histogram("rectify_scheduler_job_duration_seconds", "Time a scheduled job run took.", ["job"],
                        buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300))
POOL = Gauge("rectify_db_pool_connections", "Database connections of the pools of live processes: open, and "
             "in use (checked out).", ["state"], multiprocess_mode="livesum")
POOL_LIMIT = Gauge("rectify_db_pool_limit", "How many connections the pools of live processes may open "
                   "(pool size + overflow).", multiprocess_mode="livesum")

# workflow.tally names -> (counter, its labels). A committed transaction adds what it noted.
TALLIES = {
    "transition": Counter("rectify_transitions_total", "Problem actions applied (comments included), by action.",
                          ["action"]),
    "report": Counter("rectify_reports_total", "Problems reported, by source (a patrol round's finding or the "
                      "reporter's role).", ["source"]),
    "escalation": Counter("rectify_escalation_firings_total", "Escalation steps fired, by level.", ["level"]),
    "round_made": Counter("rectify_rounds_made_total", "Patrol rounds made by the scheduler."),
    "round_missed": Counter("rectify_rounds_missed_total", "Patrol rounds marked missed, by reason.", ["reason"]),
    "round_completed": Counter("rectify_rounds_completed_total", "Patrol rounds completed, by state "
                               "(completed, completed_late).", ["state"]),
    "round_incomplete": Counter("rectify_rounds_incomplete_total", "Patrol rounds completed with route points "
                                "left without a check-in."),
    "round_closed_incomplete": Counter("rectify_rounds_closed_incomplete_total", "Patrol rounds started and "
                                       "never completed, closed as incomplete by the scheduler."),
    "delivery": Counter("rectify_webhook_deliveries_total", "Webhook delivery attempts, by result (delivered, "
                        "failed: to be retried, dead: dead-lettered).", ["result"]),
}


# Known label values start at 0, so every series is in a scrape (and a rate) before its first event.
KNOWN = {
    "transition": [{"action": action.value} for action in TRANSITIONS],
    "report": [{"source": source} for source in ("officer", "supervisor", "patrol_round")],
    "escalation": [{"level": level} for level in (1, 2, 3, 4)],  # the default ladder's; rules may use up to 9
    "round_missed": [{"reason": reason} for reason in ("not_opened", "no_checkin")],
    "round_completed": [{"state": state} for state in ("completed", "completed_late")],
    "delivery": [{"result": result} for result in ("delivered", "failed", "dead")],
}
for _name, _label_sets in KNOWN.items():
    for _labels in _label_sets:
        TALLIES[_name].labels(**_labels)
for _state in ("open", "in_use"):
    POOL.labels(_state)


def publish(counts) -> None:
    """Add a committed transaction's tally to the counters."""
    for (name, labels), amount in counts.items():
        counter = TALLIES[name]
        (counter.labels(**dict(labels)) if labels else counter).inc(amount)


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route, str(status)).observe(seconds)


def observe_job(job_id: str, result: str, seconds: float) -> None:
    JOB_RUNS.labels(job_id, result).inc()
    if result == "ok":
        JOB_LATENCY.labels(job_id).observe(seconds)


# --- wiring -------------------------------------------------------------------------------------

def _after_commit(session) -> None:
    if not session.in_nested_transaction():  # a savepoint released is not yet a commit
        publish(tally.take(session))


def _after_transaction_end(session, transaction) -> None:
    if transaction.parent is None:  # the transaction is over: what it noted and did not commit is void
        tally.drop(session)


def watch_sessions() -> None:
    """Publish each committed transaction's tally (once per process; every session of `db`)."""
    if not event.contains(db.session, "after_commit", _after_commit):
        event.listen(db.session, "after_commit", _after_commit)
        event.listen(db.session, "after_transaction_end", _after_transaction_end)


def watch_pool(engine) -> None:
    """Count this process's open and checked-out connections as the pool lends and takes them back."""
    options = {"connect": ("open", 1), "close": ("open", -1), "close_detached": ("open", -1),
               "checkout": ("in_use", 1), "checkin": ("in_use", -1)}
    for name, (state, step) in options.items():
        event.listen(engine, name, _pool_listener(state, step))
    pool = engine.pool
    size = getattr(pool, "size", lambda: 0)() + max(getattr(pool, "_max_overflow", 0), 0)
    POOL_LIMIT.inc(size)


def _pool_listener(state: str, step: int):
    gauge = POOL.labels(state)

    def listener(*_args) -> None:
        gauge.inc(step)
    return listener


# --- the scrape ---------------------------------------------------------------------------------

class DatabaseCollector:
    """Gauges read from the database at scrape time, by a few index-backed queries."""

    def __init__(self, *, now: datetime, intervals: dict[str, float], heads: set[str]):
        self.now, self.intervals, self.heads = now, intervals, heads

    def collect(self):
        depth, oldest = health.outbox_backlog(now=self.now)
        yield _gauge("rectify_outbox_depth", "Outbox messages not yet fanned out.", depth)
        yield _gauge("rectify_outbox_oldest_age_seconds", "Age of the oldest message not yet fanned out "
                     "(0 when none).", oldest or 0)
        waiting = health.deliveries_waiting(now=self.now)
        yield _gauge("rectify_webhook_deliveries_pending", "Webhook deliveries waiting to be sent or retried.",
                     waiting["deliveries_pending"])
        yield _gauge("rectify_webhook_dead_letters", "Webhook deliveries dead-lettered (until redriven).",
                     waiting["dead_letters"])
        yield _gauge("rectify_webhook_dead_letters_last_day", "Webhook deliveries dead-lettered in the last day.",
                     waiting["dead_letters_last_day"])
        yield from self._scheduler()
        yield _gauge("rectify_migrations_at_head", "1 when the database is at the code's migration head.",
                     int(not health.migration_warnings(heads=self.heads)))

    def _scheduler(self):
        leader = GaugeMetricFamily("rectify_scheduler_leader", "1 for the scheduler holding an unexpired lease.",
                                   labels=["holder"])
        if (holder := health.scheduler_status(now=self.now)["leader"]) is not None:
            leader.add_metric([holder], 1)
        yield leader
        lag = GaugeMetricFamily("rectify_scheduler_tick_lag_seconds", "Seconds since each job last ran.",
                                labels=["job"])
        for job_id, seconds in health.job_lags(now=self.now).items():
            lag.add_metric([job_id], seconds)
        yield lag
        every = GaugeMetricFamily("rectify_scheduler_job_interval_seconds", "How often each job is meant to run.",
                                  labels=["job"])
        for job_id, seconds in self.intervals.items():
            every.add_metric([job_id], seconds)
        yield every


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def exposition(*, now: datetime, intervals: dict[str, float], heads: set[str], multiproc_dir: str) -> bytes:
    """The text exposition: the processes' counts and the database's gauges."""
    if multiproc_dir:
        counted = CollectorRegistry()
        MultiProcessCollector(counted, path=multiproc_dir)
    else:
        counted = REGISTRY
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector(now=now, intervals=intervals, heads=heads))
    return generate_latest(counted) + generate_latest(database)
