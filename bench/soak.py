"""Soak: minutes of mixed load on a real server, then the ledger's invariants checked in SQL.

    .venv/bin/python -m bench.soak --minutes 5        # default 5; --clients, --tick-seconds, --workers

It creates a PostgreSQL database of its own (BENCH_DATABASE_URL names the server, default
postgresql://postgres@127.0.0.1:5432/postgres), migrates and seeds the demo district into it, adds a
category with one-minute stage limits (so escalations fire while it runs), a patrol plan whose window is
open now and a webhook to a receiver of its own on 127.0.0.1; starts gunicorn on a free 127.0.0.1 port
and two `flask scheduler run` processes (one leads, one stands by; every job every --tick-seconds), and
drives them with client threads for the given minutes:

- officers report problems (an Idempotency-Key each, retried like a phone on 503 or an in-flight 409);
- the workflow walks them through the closed loop (assign, accept, submit, verify, close) with If-Match,
  sometimes with a rejection, a send-back or a comment on the way, and leaves some waiting;
- officers start the open round and check in at its points;
- supervisors read the ledger and their notifications.

Then it stops the load, lets the schedulers catch up, stops every process it started (by PID), runs
`flask scheduler tick` until nothing is pending (a last sweep may fire more), checks in SQL and prints:

- every problem's trail is gapless, starts with its report, each event starts where the previous ended,
  each (action, from, to) is a move of the transition table, and the last event ends in the current state;
- each problem's version equals the count of its version-changing events;
- every transition a client got a 2xx for is on the trail exactly once (at the version it was answered);
- no two live rounds of a plan share a window start; no escalation step fired twice; every firing wrote
  its escalate event;
- the outbox is drained and every webhook delivery delivered;
- a scrape of /metrics (gunicorn's workers, both schedulers and the final ticks share one multiprocess
  directory) counts what the database holds: transitions by action, reports, rounds made and missed,
  escalation firings by level, webhook delivery attempts by result;
- no request got a 5xx.

Exit status 0 when all hold, 1 otherwise. The database is dropped at the end whatever happens.
"""

import argparse
import http.server
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text

from bench.common import BENCH_SECRET, ROOT, VENV_BIN, gunicorn, make_app, migrate, scratch_database, server_url

SECRET = "soak-webhook-secret"
VERSIONLESS = ("comment", "escalate", "attach")


# --- setup ---------------------------------------------------------------------------------------

def prepare(app, hook_url: str, minutes: float) -> dict:
    """The demo district plus what a soak needs; returns tokens and ids for the clients."""
    from models import Point, db, utcnow
    from workflow import org, seed
    from workflow.notifications import webhooks
    from workflow.patrols import plans

    with app.app_context():
        now = utcnow()
        issued = seed.seed_demo(now=now, timezone="Asia/Shanghai")
        tokens = {user.id: token for user, token in issued}
        users = {user.id: user for user, _ in issued}
        fast = {stage: {"minutes": 1, "clock": "natural"} for stage in ("dispatch", "accept", "rectify", "verify")}
        org.create_category(actor=None, now=now, code="soak_fast", name="压测：一分钟时限",
                            limits=fast | {"whole": {"minutes": 5, "clock": "natural"}})
        officers = [u for u in users.values() if u.role == "officer" and u.grid_ids]
        east = [u for u in officers if u.unit_id == officers[0].unit_id]
        points = db.session.query(Point).filter(Point.grid_id.in_(east[0].grid_ids)).all()
        local = now.astimezone(ZoneInfo("Asia/Shanghai"))
        start, end = local - timedelta(minutes=10), local + timedelta(minutes=minutes + 20)
        plans.create_plan(
            actor=None, now=now, unit_id=east[0].unit_id, name="压测巡查", mode="fixed_post",
            officer_ids=[u.id for u in east], point_ids=[p.id for p in points], days="every_day",
            windows=[{"label": "压测", "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}],
            active_from=start.date())
        webhooks.create_webhook(now=now, url=hook_url, secret=SECRET,
                                events=["problem.created", "problem.transitioned", "escalation.fired",
                                        "round.missed"])
        handler = next(u for u in users.values() if u.role == "handler")  # the east squad's, seeded first
        world = {
            "supervisor": tokens[next(u.id for u in users.values() if u.role == "supervisor")],
            "handler": tokens[handler.id], "handler_unit": handler.unit_id,
            "officers": [tokens[u.id] for u in east],
            "points": [{"id": p.id, "lat": p.lat, "lng": p.lng} for p in points],
        }
        db.session.commit()
    return world


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook endpoint on 127.0.0.1 that counts the event ids it is sent."""

    def __init__(self):
        self.events: Counter = Counter()
        super().__init__(("127.0.0.1", 0), _Hook)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # the http.server interface names it so
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.server.events[body.get("event_id")] += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def start_schedulers(database: str, tick_seconds: float, metrics_env: dict) -> list[subprocess.Popen]:
    env = os.environ | metrics_env | {"DATABASE_URL": server_url(database), "RECTIFY_ENV": "production",
                                      "SECRET_KEY": BENCH_SECRET, "SCHEDULER_TICK_SECONDS": "1",
                        "SCHEDULER_LEASE_SECONDS": "5", "SCHEDULER_JOB_SECONDS": str(tick_seconds)}
    return [subprocess.Popen([str(VENV_BIN / "flask"), "--app", "app", "scheduler", "run"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGINT (the scheduler gives its lease up), then wait; kill what does not stop."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the load ------------------------------------------------------------------------------------

class Api:
    """One client's calls; counts every status; retries what a phone would retry, with the same key."""

    def __init__(self, port: int, stats: "Stats"):
        self.base, self.stats = f"http://127.0.0.1:{port}/api/v1", stats

    def call(self, method: str, path: str, token: str, body=None, headers=None, kind: str = "") -> tuple[int, dict]:
        request_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            request_headers["Content-Type"] = "application/json"
        for attempt in range(20):
            request = urllib.request.Request(self.base + path, data=data, method=method, headers=request_headers)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status, raw, etag = response.status, response.read(), response.headers.get("ETag")
            except urllib.error.HTTPError as error:
                status, raw, etag = error.code, error.read(), None
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                status, raw, etag = 599, b"{}", None
            self.stats.count(kind or path.split("/")[1], method, status)
            payload = json.loads(raw) if raw else {}
            retry = status in (503, 599) or (status == 409 and payload.get("type") == "/errors/idempotency-in-flight")
            if not retry or "Idempotency-Key" not in request_headers and method != "GET":
                break
            time.sleep(min(2.0, 0.05 * 2 ** attempt))  # a phone backs off
        if etag:
            payload["_etag"] = etag
        return status, payload


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses: Counter = Counter()
        self.transitions: list[tuple[int, str, int]] = []  # (problem, action, version) answered 2xx
        self.checkins = 0

    def count(self, kind: str, method: str, status: int) -> None:
        with self.lock:
            self.statuses[(f"{method} {kind}", status)] += 1

    def transitioned(self, problem_id: int, action: str, version: int) -> None:
        with self.lock:
            self.transitions.append((problem_id, action, version))


LOOP = [("assign", "supervisor"), ("accept", "handler"), ("submit", "handler"), ("verify", "officer"),
        ("close", "supervisor")]


def reporter_and_walker(api: Api, world: dict, stop_at: float, seed_: int) -> None:
    """Report a problem, then walk it round the loop with detours; some are left waiting (escalations)."""
    rng = random.Random(seed_)
    while time.monotonic() < stop_at:
        officer = rng.choice(world["officers"])
        point = rng.choice(world["points"])
        category = rng.choice(["soak_fast", "soak_fast", "road_occupation", "street_hawker"])
        body = {"category_code": category, "point_id": point["id"], "title": f"压测问题 {rng.randrange(10**6)} 🍢",
                "severity": rng.choice(["low", "normal", "high"])}
        status, problem = api.call("POST", "/problems", officer, body,
                                   {"Idempotency-Key": f"soak-{uuid.uuid4().hex}"}, kind="report")
        if status not in (200, 201):
            continue
        if rng.random() < 0.2:
            continue  # left waiting for dispatch: the ladder escalates it
        walk(api, world, rng, problem["id"], int(problem["_etag"].strip('"')), stop_at)


def walk(api: Api, world: dict, rng: random.Random, problem_id: int, version: int, stop_at: float) -> None:
    steps = list(LOOP)
    while steps and time.monotonic() < stop_at:
        action, who = steps.pop(0)
        fields = {"assign": {"unit_id": world["handler_unit"]}, "submit": {"note": "已整改"},
                  "verify": {"note": "现场核查"}}.get(action, {})
        if action == "verify" and rng.random() < 0.15:
            action, fields, steps = "reject", {"reason": "未整改到位"}, [("submit", "handler"), *LOOP[3:]]
        elif action == "close" and rng.random() < 0.1:
            action, fields, steps = "send_back", {"reason": "照片不清"}, [("submit", "handler"), *LOOP[3:]]
        token = rng.choice(world["officers"]) if who == "officer" else world[who]
        if rng.random() < 0.1:
            api.call("POST", f"/problems/{problem_id}/actions", token, {"action": "comment", "text": "跟进中"},
                     kind="comment")
        status, answer = api.call("POST", f"/problems/{problem_id}/actions", token, {"action": action, **fields},
                                  {"If-Match": f'"{version}"', "Idempotency-Key": f"soak-{problem_id}-{version}"},
                                  kind="transition")
        if status != 200:
            return
        version = answer["version"]
        api.stats.transitioned(problem_id, action, version)
        if rng.random() < 0.1:
            return  # left in this state for a while: its stage clock runs out


def patroller(api: Api, world: dict, stop_at: float, seed_: int) -> None:
    rng = random.Random(seed_)
    while time.monotonic() < stop_at:
        officer = rng.choice(world["officers"])
        status, page = api.call("GET", "/me/rounds?limit=20", officer, kind="rounds")
        live = [r for r in page.get("items", []) if r["state"] in ("open", "in_progress")] if status == 200 else []
        if not live:
            time.sleep(0.5)  # the scheduler has not opened the round yet
            continue
        round_ = live[0]
        api.call("POST", f"/patrol-rounds/{round_['id']}/start", officer, {}, kind="round-start")
        point = rng.choice(world["points"])
        status, _ = api.call("POST", f"/patrol-rounds/{round_['id']}/checkins", officer,
                             {"point_id": point["id"], "lat": point["lat"], "lng": point["lng"], "result": "ok",
                              "client_id": f"soak-{uuid.uuid4().hex[:12]}"}, kind="checkin")
        if status in (200, 201):
            with api.stats.lock:
                api.stats.checkins += 1


def reader(api: Api, world: dict, stop_at: float, seed_: int) -> None:
    rng = random.Random(seed_)
    while time.monotonic() < stop_at:
        api.call("GET", f"/problems?limit={rng.choice([20, 50])}", world["supervisor"], kind="ledger")
        api.call("GET", "/me/notifications?unread=true", world["supervisor"], kind="notifications")


# --- invariants ----------------------------------------------------------------------------------

def allowed_moves() -> list[tuple[str, str | None, str]]:
    """(action, from, to) of every move of the transition table, plus report, edit and the versionless."""
    from models.enums import State
    from workflow.problems.lifecycle import TRANSITIONS
    moves = [("report", None, "reported"), ("report", None, "verified"), ("edit", "reported", "reported")]
    for action, rule in TRANSITIONS.items():
        moves += [(action.value, frm.value, (rule.to or frm).value) for frm in rule.frm]
    moves += [(action, state.value, state.value) for action in VERSIONLESS for state in State]
    return moves


def invariants(database: str, stats: Stats, receiver: Receiver) -> list[tuple[str, bool, str]]:
    engine = create_engine(server_url(database))
    results = []
    with engine.connect() as conn:
        def scalar(sql: str, **params) -> int:
            return conn.execute(text(sql), params).scalar_one()

        conn.execute(text("CREATE TEMP TABLE moves (action text, from_state text, to_state text)"))
        conn.execute(text("INSERT INTO moves VALUES (:a, :f, :t)"),
                     [{"a": a, "f": f, "t": t} for a, f, t in allowed_moves()])
        problems, events = scalar("SELECT count(*) FROM problems"), scalar("SELECT count(*) FROM problem_events")
        checks = {
            "trails are gapless (seq 1..last_seq)": """
                SELECT count(*) FROM problems p WHERE p.last_seq <> (SELECT count(*) FROM problem_events e
                  WHERE e.problem_id = p.id) OR p.last_seq <> (SELECT max(seq) FROM problem_events e
                  WHERE e.problem_id = p.id)""",
            "every trail starts with its report": """
                SELECT count(*) FROM problems p LEFT JOIN problem_events e ON e.problem_id = p.id AND e.seq = 1
                WHERE e.action IS DISTINCT FROM 'report' OR e.from_state IS NOT NULL""",
            "each event starts where the previous one ended": """
                SELECT count(*) FROM (SELECT seq, from_state, lag(to_state) OVER (PARTITION BY problem_id
                  ORDER BY seq) AS previous FROM problem_events) e
                WHERE e.seq > 1 AND e.from_state IS DISTINCT FROM e.previous""",
            "each event is a move of the transition table": """
                SELECT count(*) FROM problem_events e WHERE NOT EXISTS (SELECT 1 FROM moves m
                  WHERE m.action = e.action AND m.from_state IS NOT DISTINCT FROM e.from_state
                  AND m.to_state = e.to_state)""",
            "replaying the trail ends in the current state": """
                SELECT count(*) FROM problems p JOIN problem_events e ON e.problem_id = p.id AND e.seq = p.last_seq
                WHERE e.to_state <> p.state""",
            "version = count of version-changing events": """
                SELECT count(*) FROM problems p WHERE p.version <> (SELECT count(*) FROM problem_events e
                  WHERE e.problem_id = p.id AND e.action NOT IN ('comment', 'escalate', 'attach'))""",
            "no two live rounds of a plan share a window start": """
                SELECT count(*) FROM (SELECT plan_id, planned_start FROM patrol_rounds WHERE state <> 'cancelled'
                  GROUP BY plan_id, planned_start HAVING count(*) > 1) d""",
            "no escalation step fired twice": """
                SELECT count(*) FROM (SELECT 1 FROM escalation_firings GROUP BY problem_id, rule_id, level, cycle
                  HAVING count(*) > 1) d""",
            "every firing wrote its escalate event": """
                SELECT abs((SELECT count(*) FROM escalation_firings)
                           - (SELECT count(*) FROM problem_events WHERE action = 'escalate'))""",
            "the outbox is drained": "SELECT count(*) FROM outbox WHERE delivered_at IS NULL",
            "every webhook delivery delivered": "SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered'",
        }
        for name, sql in checks.items():
            bad = scalar(sql)
            results.append((name, bad == 0, f"{bad} violating"))
        # Every transition a client was answered 2xx for is on the trail exactly once, at its version.
        rows = conn.execute(text("""
            SELECT problem_id, action, sum(CASE WHEN action IN ('comment', 'escalate', 'attach') THEN 0 ELSE 1 END)
              OVER (PARTITION BY problem_id ORDER BY seq) FROM problem_events""")).all()
        trail = Counter((p, a, int(v)) for p, a, v in rows)
        answered = Counter(stats.transitions)
        missing = [t for t in answered if trail[t] != 1]
        doubled = [t for t, n in answered.items() if n > 1]
        results.append(("every 2xx transition is on the trail once", not missing and not doubled,
                        f"{len(answered)} answered, {len(missing)} not found once, {len(doubled)} answered twice"))
        rounds = scalar("SELECT count(*) FROM patrol_rounds")
        checkins = scalar("SELECT count(*) FROM patrol_checkins")
        results.append(("every 2xx check-in is stored", checkins >= stats.checkins,
                        f"{stats.checkins} answered, {checkins} stored, {rounds} rounds"))
        fired = scalar("SELECT count(*) FROM escalation_firings")
        sent = {row[0] for row in conn.execute(text(
            "SELECT event_id FROM webhook_deliveries WHERE status = 'delivered'")).all()}
        unsubscribed = dict(conn.execute(text(
            "SELECT topic, count(*) FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d "
            "WHERE d.event_id = o.id) GROUP BY topic")).all())
        results.append(("the receiver got every delivery marked delivered", set(receiver.events) >= sent,
                        f"{len(sent)} delivered, {len(set(receiver.events) & sent)} received, "
                        f"{sum(receiver.events.values()) - len(receiver.events)} repeats; outbox messages no hook "
                        f"subscribes to: {unsubscribed or 'none'}"))
        results.append(("(totals)", True, f"{problems} problems, {events} events, {fired} escalation firings"))
    engine.dispose()
    return results


def pending(database: str) -> int:
    """Outbox messages not yet fanned out plus webhook deliveries not yet sent."""
    engine = create_engine(server_url(database))
    with engine.connect() as conn:
        count = conn.execute(text("SELECT (SELECT count(*) FROM outbox WHERE delivered_at IS NULL) + "
                                  "(SELECT count(*) FROM webhook_deliveries WHERE status = 'pending')")).scalar()
    engine.dispose()
    return count


def drain(database: str, timeout: float) -> int:
    """After the load: wait (bounded) for the running schedulers to catch up; the caller then stops them and
    runs final ticks (`flask scheduler tick`) until nothing is pending, since a sweep may fire more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pending(database):
        time.sleep(1)
    return pending(database)


def final_ticks(database: str, metrics_env: dict) -> int:
    """`flask scheduler tick` (every job once: the sweep, then delivery) until nothing is pending; how many."""
    env = os.environ | metrics_env | {"DATABASE_URL": server_url(database), "RECTIFY_ENV": "production",
                                      "SECRET_KEY": BENCH_SECRET}
    for ticks in range(1, 6):
        subprocess.run([str(VENV_BIN / "flask"), "--app", "app", "scheduler", "tick"], cwd=ROOT, env=env,
                       check=True, stdout=subprocess.DEVNULL)
        if not pending(database):
            return ticks
    return ticks


# --- the metrics against the database ----------------------------------------------------------

def scrape(port: int) -> list[tuple[str, dict, float]]:
    """(name, labels, value) of every sample /metrics answers (loopback: no token needed)."""
    from prometheus_client.parser import text_string_to_metric_families
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        exposition = response.read().decode()
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(exposition)
            for s in family.samples]


COUNTED_IN_SQL = {
    "transitions by action": ("rectify_transitions_total", "action", """
        SELECT action, count(*) FROM problem_events WHERE action NOT IN ('report', 'edit', 'escalate', 'attach')
        GROUP BY action"""),
    "reports": ("rectify_reports_total", None, "SELECT 'all', count(*) FROM problems"),
    "rounds made": ("rectify_rounds_made_total", None, "SELECT 'all', count(*) FROM patrol_rounds"),
    "rounds missed by reason": ("rectify_rounds_missed_total", "reason", """
        SELECT missed_reason, count(*) FROM patrol_rounds WHERE state = 'missed' GROUP BY missed_reason"""),
    "escalation firings by level": ("rectify_escalation_firings_total", "level", """
        SELECT level::text, count(*) FROM escalation_firings GROUP BY level"""),
    # Each attempt is one result: delivered and dead ones end a delivery, the rest of its attempts failed.
    "delivery attempts by result": ("rectify_webhook_deliveries_total", "result", """
        SELECT 'delivered', count(*) FILTER (WHERE status = 'delivered') FROM webhook_deliveries
        UNION ALL SELECT 'dead', count(*) FILTER (WHERE status = 'dead') FROM webhook_deliveries
        UNION ALL SELECT 'failed', coalesce(sum(attempts), 0) - count(*) FILTER (WHERE status <> 'pending')
        FROM webhook_deliveries"""),
}


def metrics_match(database: str, samples: list[tuple[str, dict, float]]) -> list[tuple[str, bool, str]]:
    """Each counted family of the scrape against the same count in SQL (zeros left out on both sides)."""
    engine, results = create_engine(server_url(database)), []
    with engine.connect() as conn:
        for what, (metric, label, sql) in COUNTED_IN_SQL.items():
            counted: Counter = Counter()
            for name, labels, value in samples:
                if name == metric and value:
                    counted[labels.get(label, "all") if label else "all"] += int(value)
            stored = Counter({str(key): int(n) for key, n in conn.execute(text(sql)).all() if n})
            results.append((f"/metrics counts the {what} the database holds", counted == stored,
                            f"scraped {dict(sorted(counted.items()))}, stored {dict(sorted(stored.items()))}"))
    engine.dispose()
    return results


# --- main ----------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4, help="walker threads (plus a patroller and a reader)")
    parser.add_argument("--tick-seconds", type=float, default=3.0, help="how often every scheduler job runs")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args()

    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    stats = Stats()
    metrics_dir = tempfile.TemporaryDirectory(prefix="rectify-soak-metrics-")
    metrics_env = {"PROMETHEUS_MULTIPROC_DIR": metrics_dir.name}
    with metrics_dir, scratch_database("soak") as database:
        app = make_app(database)
        migrate(app)
        world = prepare(app, receiver.url, args.minutes)
        with app.app_context():
            from models import db
            db.engine.dispose()
        with gunicorn(database, workers=args.workers, extra_env=metrics_env) as port:
            schedulers = start_schedulers(database, args.tick_seconds, metrics_env)
            try:
                started = time.monotonic()
                stop_at = started + args.minutes * 60
                print(f"soak: {args.minutes:g} min on 127.0.0.1:{port}, database {database}, {args.clients} walkers, "
                      f"a patroller and a reader; scheduler pids {[p.pid for p in schedulers]}", flush=True)
                threads = [threading.Thread(target=reporter_and_walker, args=(Api(port, stats), world, stop_at, i))
                           for i in range(args.clients)]
                threads += [threading.Thread(target=patroller, args=(Api(port, stats), world, stop_at, 100)),
                            threading.Thread(target=reader, args=(Api(port, stats), world, stop_at, 200))]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                elapsed = time.monotonic() - started
                left = drain(database, timeout=max(30.0, 10 * args.tick_seconds))
            finally:
                stop(schedulers)
            ticks = final_ticks(database, metrics_env)
            print(f"load stopped; {left} outbox items pending when the schedulers stopped, "
                  f"{ticks} final tick(s)", flush=True)
            samples = scrape(port)
        receiver.shutdown()
        results = invariants(database, stats, receiver) + metrics_match(database, samples)
    return report(stats, results, elapsed)


def report(stats: Stats, results: list, elapsed: float) -> int:
    total = sum(stats.statuses.values())
    print(f"\n{total} requests in {elapsed:.0f} s ({total / elapsed:.1f}/s)")
    by_kind: dict[str, Counter] = {}
    for (kind, status), n in sorted(stats.statuses.items()):
        by_kind.setdefault(kind, Counter())[status] = n
    for kind, statuses in by_kind.items():
        print(f"  {kind:<24} " + "  ".join(f"{status}: {n}" for status, n in sorted(statuses.items())))
    server_errors = sum(n for (_, status), n in stats.statuses.items() if 500 <= status < 599)
    results.append(("no request got a 5xx", server_errors == 0, f"{server_errors} answers 5xx"))
    print("\ninvariants")
    for name, ok, detail in results:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}")
    failed = [name for name, ok, _ in results if not ok]
    print("\nsoak: " + ("all invariants hold" if not failed else f"{len(failed)} invariant(s) FAILED"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
