"""The ledger's and the sweep's main queries use indexes: EXPLAIN on PostgreSQL over 20,000 analyzed problems.

The statements are the ones the workflow really sends (caught as they are executed), explained with their own
parameters; a Seq Scan on problems would make them grow with the ledger (bench/RESULTS.md).
"""

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from bench.data import World as BenchWorld
from bench.data import add_problems
from models.base import db
from tests.conftest import NOW
from workflow.escalation import firing
from workflow.ledger import query
from workflow.paging import encode_cursor
from workflow.patrols.rounds import _Facts

SIZE = 20_000


@pytest.fixture
def seeded(app, world):
    """20,000 problems over the world's grids, in every state, analyzed."""
    points = [world.points["market"].id] * 10 + [world.points["night"].id] * 10
    bench_world = BenchWorld(grids=[(grid.id, grid.unit_id) for grid in world.grids.values()], points=points,
                             categories=[category.id for category in world.categories.values()],
                             ids={"squad": world.units["squad"].id, "handler": world.users["handler"].id,
                                  "officer": world.users["officer"].id})
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    db.session.commit()
    add_problems(url, bench_world, first=1, count=SIZE, now=NOW)
    return world


@contextmanager
def caught(prefix: str):
    """The (statement, parameters) pairs sent while inside whose SQL starts with `prefix`."""
    sent = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if " ".join(statement.split()).startswith(prefix):
            sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def plan_nodes(statement: str, parameters) -> list[dict]:
    """Every node of the statement's plan."""
    cursor = db.session.connection().connection.cursor()
    cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
    plan = cursor.fetchone()[0][0]["Plan"]
    nodes, todo = [], [plan]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo.extend(node.get("Plans", []))
    return nodes


def scans_on_problems(statement: str, parameters) -> list[str]:
    return [node["Node Type"] for node in plan_nodes(statement, parameters)
            if node.get("Relation Name") == "problems"]


def explained(fn, prefix: str = "SELECT problems.") -> list[str]:
    with caught(prefix) as sent:
        fn()
    assert sent, f"no statement starting with {prefix!r} was sent"
    return [scan for statement, parameters in sent for scan in scans_on_problems(statement, parameters)]


def ledger_page(world, who: str, filters: dict, cursor: str | None = None):
    return lambda: query.list_problems(actor=world.users[who], now=NOW, filters=filters, limit=50, cursor=cursor)


@pytest.mark.parametrize("who", ["supervisor", "east_supervisor", "officer", "handler"])
def test_the_first_ledger_page_uses_an_index_for_every_role(seeded, who):
    scans = explained(ledger_page(seeded, who, {}))
    assert scans and "Seq Scan" not in scans, scans


def test_a_filtered_ledger_page_uses_an_index(seeded):
    filters = {"state": ["assigned", "rectifying", "verifying"], "category": ["hawker"],
               "grid_id": [seeded.grids["east"].id]}
    scans = explained(ledger_page(seeded, "supervisor", filters))
    assert scans and "Seq Scan" not in scans, scans


def test_a_deep_ledger_page_is_one_index_range(seeded):
    cursor = encode_cursor(NOW.replace(month=6), 10_000)
    with caught("SELECT problems.") as sent:
        ledger_page(seeded, "supervisor", {}, cursor)()
    [(statement, parameters)] = sent
    nodes = [node for node in plan_nodes(statement, parameters) if node.get("Relation Name") == "problems"]
    assert [node["Node Type"] for node in nodes] == ["Index Scan"], nodes
    assert "reported_at" in nodes[0].get("Index Cond", ""), nodes  # a range on the index, not a filter


def test_the_sweep_finds_due_problems_by_index(seeded):
    scans = explained(lambda: firing.sweep(now=NOW))
    assert scans and "Seq Scan" not in scans, scans
    db.session.rollback()


def test_patrol_checklists_find_problems_at_points_by_index(seeded):
    class Plan:  # the attributes the facts read, for a plan over both points
        id, grid_id = 1, None
        point_ids = [seeded.points["market"].id, seeded.points["night"].id]
        timezone, follow_up_days = "Asia/Shanghai", 7

    scans = explained(lambda: _Facts.load([(Plan, [NOW])]), prefix="SELECT problems.")
    assert scans and "Seq Scan" not in scans, scans


def test_an_officers_rounds_are_found_by_the_gin_index(world):
    """20,000 rounds of many officers: the officer's own are an index look-up, not a scan of every round."""
    from sqlalchemy import text

    from workflow.patrols import plans, rounds
    officer = world.users["officer"]
    plan = plans.create_plan(actor=None, now=NOW, unit_id=world.units["east"].id, name="历史巡查",
                                    mode="dynamic", days="every_day", officer_ids=[officer.id],
                                    point_ids=[world.points["market"].id],
                                    windows=[{"label": "早", "start": "06:30", "end": "08:30"}])
    db.session.execute(text("""
        INSERT INTO patrol_rounds (plan_id, label, planned_start, planned_end, grace_minutes, state, officer_ids,
                                   checklist, focus_categories, created_at, updated_at)
        SELECT :plan, '早', :now + n * interval '1 hour', :now + n * interval '1 hour' + interval '2 hours', 15,
               'missed', CASE WHEN n % 500 = 0 THEN json_build_array(:officer) ELSE json_build_array(100000 + n % 50)
               END, '{"point_ids": []}', '[]', :now, :now
        FROM generate_series(1, 20000) AS n"""), {"plan": plan.id, "now": NOW, "officer": officer.id})
    db.session.commit()
    db.session.execute(text("ANALYZE patrol_rounds"))
    with caught("SELECT patrol_rounds.") as sent:
        db.session.scalars(rounds.list_rounds(actor=officer, officer_id=officer.id).limit(50)).all()
    scans = [node["Node Type"] for statement, parameters in sent for node in plan_nodes(statement, parameters)
             if node.get("Relation Name") == "patrol_rounds"]
    assert scans and "Seq Scan" not in scans, scans  # a Bitmap Heap Scan over the GIN index


def test_a_months_stage_times_read_their_spans_by_index_and_no_event(seeded):
    """Decision 0123: the stage times of a month are an index range of stage_spans joined to the month's
    problems, never a pass over problem_events (at a million problems, ~340,000 stages a month)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func, select

    from bench.data import add_trails
    from models import Problem
    from workflow.ledger import reports
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    add_trails(url, period=(NOW - timedelta(days=366), NOW))  # every problem leaves its four stages
    start, end = datetime(2026, 9, 30, 16, tzinfo=UTC), datetime(2026, 10, 31, 16, tzinfo=UTC)  # October, local
    sent = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "stage_spans" in statement:
            sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        body = reports.summary(actor=seeded.users["supervisor"], now=NOW, start=start, end=end, group_by="unit",
                               tz="Asia/Shanghai")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    month = db.session.scalar(select(func.count()).where(Problem.reported_at >= start, Problem.reported_at < end))
    assert body["totals"]["stage_times"]["verify"]["count"] == month > 1000
    [(statement, parameters)] = sent
    scans = {(node.get("Relation Name"), node["Node Type"]) for node in plan_nodes(statement, parameters)
             if node.get("Relation Name")}
    assert "problem_events" not in {relation for relation, _ in scans}, scans
    assert {scan for relation, scan in scans if relation == "stage_spans"} <= {"Index Only Scan", "Index Scan",
                                                                                "Bitmap Heap Scan"}, scans
