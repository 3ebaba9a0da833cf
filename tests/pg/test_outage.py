"""PostgreSQL goes away and comes back: the API answers 503 quickly while it is away, recovers without a
restart, and loses or doubles nothing; the scheduler survives and catches up exactly once.

The shared PostgreSQL server is never stopped: the app under test reaches it through tests/pg/proxy.py,
which the test cuts (every live connection closed, new ones refused) and restores. The outage is driven by
counts (cut after so many transitions, restore after so many 503s), not by a clock.
"""

import logging
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from app import create_app
from config.settings import Testing
from models import EscalationFiring, JobRun, PatrolRound, Problem, ProblemEvent, SchedulerLease, db
from schedules.runner import HOLDER, tick_if_leader
from tests.api.helpers import assert_problem_json
from tests.conftest import NOW
from tests.pg.proxy import Proxy
from workflow.escalation import rules
from workflow.patrols import plans

CONNECT_TIMEOUT = 2  # seconds; libpq's smallest useful value
POOL_TIMEOUT = 1
THREADS, PROBLEMS = 6, 30
CUT_AFTER = 20  # successful transitions before the outage
RESTORE_AFTER = 3 * THREADS  # 503 answers before it ends
SHANGHAI = ZoneInfo("Asia/Shanghai")
LOOP = ("assign", "accept", "submit", "verify", "close")


@pytest.fixture
def proxy(database_url):
    url = make_url(database_url)
    with Proxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        yield proxy


@pytest.fixture
def proxied(app, database_url, proxy):
    """A second app on the same database, reaching it only through the proxy, with the test's clock."""
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    config = type("ProxiedConfig", (Testing,), {
        "SQLALCHEMY_DATABASE_URI": url, "ATTACHMENT_DIR": app.config["ATTACHMENT_DIR"],
        "DATABASE_CONNECT_TIMEOUT": CONNECT_TIMEOUT, "DATABASE_POOL_TIMEOUT": POOL_TIMEOUT})
    proxied = create_app(config)
    proxied.config["TEST_NOW"] = NOW
    proxied.extensions["rectify_clock"] = lambda: proxied.config["TEST_NOW"]
    yield proxied
    proxy.restore()
    with proxied.app_context():
        db.engine.dispose()


def steps(world) -> dict:
    return {"assign": ("supervisor", {"unit_id": world.units["squad"].id}), "accept": ("handler", {}),
            "submit": ("handler", {"note": "摊位已清理"}), "verify": ("officer", {"note": "现场核查"}),
            "close": ("supervisor", {})}


class Load:
    """Threads walking problems through the closed loop like phones: a 503 or an in-flight 409 is retried
    with the same Idempotency-Key and If-Match; the outage is cut and restored on counts."""

    def __init__(self, app, world, proxy, problem_ids):
        self.app, self.world, self.proxy = app, world, proxy
        self.problem_ids = problem_ids
        self.steps = steps(world)  # read the world's rows here: the threads have no app context
        self.lock = threading.Lock()
        self.ok: list[tuple[int, str, int, bool]] = []  # (problem, action, version, replayed)
        self.unavailable: list[tuple[float, object]] = []  # (seconds to answer, response)
        self.unexpected: list[tuple[int, str, int, str]] = []
        self.ok_after_restore = 0
        self.restored = False
        self.enough_ok, self.enough_503 = threading.Event(), threading.Event()

    def run(self) -> None:
        shares = [self.problem_ids[i::THREADS] for i in range(THREADS)]
        threads = [threading.Thread(target=self._walk, args=(share,)) for share in shares]
        for thread in threads:
            thread.start()
        assert self.enough_ok.wait(30), "the load never got going"
        self.proxy.cut()
        cut_at = len(self.ok)
        assert self.enough_503.wait(30), "the outage produced no 503s"
        self.proxy.restore()
        with self.lock:
            self.restored = True
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads)
        assert cut_at >= CUT_AFTER, self.unexpected[:3]

    def _walk(self, problem_ids) -> None:
        client = self.app.test_client()
        try:
            for problem_id in problem_ids:
                version = 1
                for action in LOOP:
                    version = self._act(client, problem_id, action, version)
                    if version is None:
                        break
        except Exception as error:  # a thread must not die silently
            with self.lock:
                self.unexpected.append((0, "exception", 0, repr(error)))
            self.enough_ok.set()
            self.enough_503.set()

    def _act(self, client, problem_id: int, action: str, version: int) -> int | None:
        by, fields = self.steps[action]
        headers = self.world.auth(by, **{"If-Match": f'"{version}"',
                                         "Idempotency-Key": f"phone-{problem_id}-{action}"})
        while True:
            started = time.monotonic()
            response = client.post(f"/api/v1/problems/{problem_id}/actions", json={"action": action, **fields},
                                   headers=headers)
            took = time.monotonic() - started
            with self.lock:
                if response.status_code == 200:
                    self.ok.append((problem_id, action, response.json["version"],
                                    response.headers.get("Idempotent-Replayed") == "true"))
                    self.ok_after_restore += self.restored
                    if len(self.ok) >= CUT_AFTER:
                        self.enough_ok.set()
                    return response.json["version"]
                if response.status_code == 503:
                    self.unavailable.append((took, response))
                    if len(self.unavailable) >= RESTORE_AFTER:
                        self.enough_503.set()
                    continue
                if response.status_code == 409 and response.json["type"] == "/errors/idempotency-in-flight":
                    continue
                self.unexpected.append((problem_id, action, response.status_code, response.get_data(as_text=True)))
                return None


def test_transitions_through_an_outage_answer_503_fast_then_recover_with_nothing_lost_or_doubled(
        world, proxy, proxied):
    problem_ids = [world.report().id for _ in range(PROBLEMS)]
    load = Load(proxied, world, proxy, problem_ids)

    load.run()

    assert load.unexpected == []
    assert len(load.unavailable) >= RESTORE_AFTER and proxy.refused > 0
    for took, response in load.unavailable:
        assert_problem_json(response, 503, "unavailable")
        assert int(response.headers["Retry-After"]) >= 1
        assert took < CONNECT_TIMEOUT, f"a 503 took {took:.2f}s"
    assert load.ok_after_restore > 0  # it recovered without a restart
    # Every 2xx is on the trail, once; every problem went round the loop exactly once.
    answered = Counter((problem_id, action, version) for problem_id, action, version, _ in load.ok)
    assert set(answered.values()) == {1} and len(answered) == PROBLEMS * len(LOOP)
    trail = Counter(db.session.execute(select(ProblemEvent.problem_id, ProblemEvent.action, ProblemEvent.seq)
                                       .where(ProblemEvent.action != "report")).all())
    assert set(trail.values()) == {1}
    assert set(trail) == set(answered)
    closed = db.session.execute(select(Problem.state, Problem.version, func.count()).group_by(Problem.state,
                                                                                            Problem.version)).all()
    assert closed == [("closed", 1 + len(LOOP), PROBLEMS)]


def test_reads_and_health_answer_503_while_the_database_is_away_and_200_after(world, proxy, proxied):
    client, headers = proxied.test_client(), world.auth("supervisor")
    assert client.get("/api/v1/problems", headers=headers).status_code == 200

    proxy.cut()
    assert_problem_json(client.get("/api/v1/problems", headers=headers), 503, "unavailable")
    health = client.get("/healthz")
    assert (health.status_code, health.json["database"]) == (503, "down")

    proxy.restore()
    assert client.get("/api/v1/problems", headers=headers).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_an_unanswering_database_gives_503_after_the_connect_timeout_not_a_hang(world, proxy, proxied):
    client, headers = proxied.test_client(), world.auth("supervisor")
    with proxied.app_context():
        db.engine.dispose()  # no pooled connection: the next request must connect
    proxy.blackhole()

    started = time.monotonic()
    response = client.get("/api/v1/problems", headers=headers)
    took = time.monotonic() - started

    assert_problem_json(response, 503, "unavailable")
    assert CONNECT_TIMEOUT - 0.5 <= took < CONNECT_TIMEOUT + 2
    proxy.restore()
    assert client.get("/api/v1/problems", headers=headers).status_code == 200


def test_an_exhausted_pool_gives_503_after_the_pool_timeout(world, database_url):
    config = type("OnePool", (Testing,), {"SQLALCHEMY_DATABASE_URI": database_url, "DATABASE_POOL_TIMEOUT": 0.3,
                                          "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 1, "max_overflow": 0}})
    small = create_app(config)
    small.extensions["rectify_clock"] = lambda: NOW
    with small.app_context():
        held = db.engine.connect()  # the only connection, taken
        try:
            started = time.monotonic()
            response = small.test_client().get("/api/v1/problems", headers=world.auth("supervisor"))
            took = time.monotonic() - started
        finally:
            held.close()
        db.engine.dispose()
    assert_problem_json(response, 503, "unavailable")
    assert took < 2


# The scheduler ---------------------------------------------------------------------------------------

def _plan(world):
    plan = plans.create_plan(
        actor=None, now=NOW, unit_id=world.units["east"].id, name="东关早市错时巡查", mode="fixed_post",
        officer_ids=[world.users["officer"].id], point_ids=[world.points["market"].id], days="every_day",
        windows=[{"label": "中", "start": "11:00", "end": "13:30"}, {"label": "晚", "start": "17:30", "end": "21:30"}])
    db.session.commit()
    return plan


def local_starts(*days_hours_minutes) -> list[datetime]:
    """November 2026 instants in Shanghai, e.g. (25, 17, 30) for Wednesday 17:30."""
    return [datetime(2026, 11, d, h, m, tzinfo=SHANGHAI) for d, h, m in days_hours_minutes]


def _rounds(plan_id) -> list:
    db.session.rollback()
    stmt = select(PatrolRound.planned_start).where(PatrolRound.plan_id == plan_id).order_by(PatrolRound.planned_start)
    return list(db.session.scalars(stmt))


def _firings() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(EscalationFiring))


def _lease():
    db.session.rollback()
    return db.session.get(SchedulerLease, "scheduler")


def test_the_scheduler_survives_an_outage_and_catches_up_exactly_once(world, proxy, proxied, caplog):
    plan = _plan(world)
    rules.create_rule(actor=None, now=NOW, name="整改到期", trigger="at_due", stage="rectify", level=2)
    world.to_state("rectifying")  # rectify limit 600 natural minutes from NOW
    caplog.set_level(logging.WARNING, logger="schedules.runner")

    tick_if_leader(proxied, None)  # the heartbeat takes the lease
    assert _lease().holder == HOLDER

    # Down for longer than the lease: every tick fails cleanly, nothing is written, the process goes on.
    proxy.cut()
    proxied.config["TEST_NOW"] = NOW + timedelta(hours=11)
    for job_id in (None, "materialize_rounds", "advance_rounds", "sweep_escalations"):
        tick_if_leader(proxied, job_id)
    assert sum("database unavailable" in r.getMessage() for r in caplog.records) == 4
    assert _rounds(plan.id) == [] and _firings() == 0
    assert db.session.get(JobRun, "materialize_rounds") is None
    assert _lease().expires_at < proxied.config["TEST_NOW"]  # it lapsed while the database was away

    # Back: the next tick takes the lease again and does the work once; later ticks add nothing. As of
    # Wednesday 21:00 the plan's first materialization makes the rounds up to Friday 21:00 (a plan's first
    # tick does not backfill Wednesday's 中), and the overdue rectification fires its rule once.
    proxy.restore()
    for _ in range(2):
        for job_id in ("materialize_rounds", "advance_rounds", "sweep_escalations"):
            tick_if_leader(proxied, job_id)
        rounds, firings = _rounds(plan.id), _firings()
        assert _lease().holder == HOLDER and _lease().expires_at > proxied.config["TEST_NOW"]
        assert rounds == local_starts((25, 17, 30), (26, 11, 0), (26, 17, 30), (27, 11, 0), (27, 17, 30))
        assert firings == 1
    assert db.session.get(JobRun, "sweep_escalations").last_tick_at == NOW + timedelta(hours=11)


def test_a_tick_whose_commit_is_cut_leaves_nothing_and_the_next_does_it_once(world, proxy, proxied, caplog):
    plan = _plan(world)
    tick_if_leader(proxied, None)
    commits = []

    def cut_at_the_jobs_commit(conn):
        commits.append(1)
        if len(commits) == 2:  # the first commit renews the lease, the second is the job's work
            proxy.cut()

    with proxied.app_context():
        engine = db.engine
    event.listen(engine, "commit", cut_at_the_jobs_commit)
    try:
        tick_if_leader(proxied, "materialize_rounds")
    finally:
        event.remove(engine, "commit", cut_at_the_jobs_commit)
    assert len(commits) == 2
    assert any("database unavailable" in r.getMessage() for r in caplog.records)
    assert _rounds(plan.id) == [] and db.session.get(JobRun, "materialize_rounds") is None

    proxy.restore()
    tick_if_leader(proxied, "materialize_rounds")
    tick_if_leader(proxied, "materialize_rounds")
    assert _rounds(plan.id) == local_starts((25, 11, 0), (25, 17, 30), (26, 11, 0), (26, 17, 30))
