"""Campaign coverage over 20,000 parties on PostgreSQL: how long `GET /api/v1/problem-lists/{id}/coverage`
takes, as the workflow call (one statement and the folding) and as the whole request through the app.

The data, written in SQL: 20,000 restaurants tagged bottled_gas over the bench's 20 grids (a campaign led by
the district covers them all), 90 % inspected in the campaign by four officers, 30 % of those ordered to
rectify with a problem per order (states of the bench's usual mix), a third of the orders complied at a
re-inspection, a third failed, a third open. Target: ≤ 200 ms. Printed: the wall time of the workflow call and
of the whole request (median, p95), the CPU one call costs (this process plus its PostgreSQL backend: what it
takes on an otherwise idle machine) and the load average while it ran (the 2 cores are often shared).

    python -m bench.coverage_bench            # BENCH_COVERAGE_PARTIES to change the size, BENCH_RUNS
"""

import os
import statistics

import psycopg

from bench.common import (
    database_cpu,
    libpq_url,
    make_app,
    migrate,
    percentile,
    report,
    scratch_database,
    timed,
    verdict,
)
from bench.data import NOW, add_problems, build_world

PARTIES = int(os.environ.get("BENCH_COVERAGE_PARTIES", "20000"))
SAMPLES = max(int(os.environ.get("BENCH_RUNS", "3")) * 10, 20)
TARGET_MS = 200

PARTIES_SQL = """
INSERT INTO parties (id, name, kind, licence_numbers, status, point_id, grid_id, grid_unit_id, address,
                     version, last_seq, created_at, updated_at)
SELECT i, '压测餐馆 ' || i, 'restaurant', '[]', 'operating', (%(points)s::int[])[(i - 1) %% %(npoints)s + 1],
       (%(grids)s::int[])[((i - 1) %% %(npoints)s) / %(ppg)s + 1],
       (%(units)s::int[])[((i - 1) %% %(npoints)s) / %(ppg)s + 1], '压测路 ' || i || ' 号', 1, 0, %(now)s, %(now)s
FROM generate_series(1, %(n)s) AS i;
INSERT INTO party_tags (party_id, tag) SELECT i, 'bottled_gas' FROM generate_series(1, %(n)s) AS i;
"""

# Inspected: i %% 10 <> 0; ordered: i %% 10 in (1, 2, 3); the order's state by i %% 3.
INSPECTIONS_SQL = """
INSERT INTO inspections (id, party_id, template_id, officer_id, list_id, at, received_at, outcome, results,
                         first_in_list)
SELECT i, i, %(template)s, (%(officers)s::int[])[i %% 4 + 1], %(list)s, %(now)s - (i %% 600) * interval '1 hour',
       %(now)s, CASE WHEN i %% 10 IN (1, 2, 3) THEN 'rectify' ELSE 'pass' END, '[]', true
FROM generate_series(1, %(n)s) AS i WHERE i %% 10 <> 0;
INSERT INTO rectification_orders (id, number, unit_id, year, seq, party_id, inspection_id, list_id, issued_by_id,
                                  issued_at, deadline_on, deadline_at, items, state, closed_at, superseded)
SELECT i, 'BK〔2026〕第' || i || '号', %(unit)s, 2026, i, i, i, %(list)s, (%(officers)s::int[])[i %% 4 + 1],
       %(now)s - interval '30 days', DATE '2026-11-01', %(now)s - interval '24 days', '[]',
       (ARRAY['complied', 'failed', 'open'])[i %% 3 + 1], CASE WHEN i %% 3 < 2 THEN %(now)s END, false
FROM generate_series(1, %(n)s) AS i WHERE i %% 10 IN (1, 2, 3);
INSERT INTO inspections (id, party_id, template_id, officer_id, list_id, at, received_at, outcome, results,
                         first_in_list)
SELECT %(n)s + i, i, %(template)s, (%(officers)s::int[])[i %% 4 + 1], %(list)s, %(now)s, %(now)s,
       CASE WHEN i %% 3 = 0 THEN 'pass' ELSE 'rectify' END, '[]', false
FROM generate_series(1, %(n)s) AS i WHERE i %% 10 IN (1, 2, 3) AND i %% 3 < 2;
INSERT INTO reinspections (inspection_id, order_id)
SELECT %(n)s + i, i FROM generate_series(1, %(n)s) AS i WHERE i %% 10 IN (1, 2, 3) AND i %% 3 < 2;
INSERT INTO inspection_findings (inspection_id, party_id, item_code, problem_id, order_id, raised, at)
SELECT o.id, o.party_id, 'hose_type', p.id, o.id, true, %(now)s
FROM (SELECT id, party_id, row_number() OVER (ORDER BY id) AS n FROM rectification_orders) AS o
JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM problems) AS p ON p.n = o.n;
"""


def build(database: str) -> tuple[int, int]:
    """The data; returns (campaign id, supervisor id)."""
    from sqlalchemy import select

    from models import InspectionTemplate, Unit, User
    from models.base import db
    from workflow.inspections import coverage
    from workflow.ledger import lists

    app = make_app(database)
    migrate(app)
    world = build_world(app)
    orders = len([i for i in range(1, PARTIES + 1) if i % 10 in (1, 2, 3)])
    add_problems(libpq_url(database), world, first=1, count=orders)
    with app.app_context():
        supervisor = db.session.get(User, world.ids["supervisor"])
        district = db.session.scalars(select(Unit).where(Unit.parent_id.is_(None))).first()
        campaign = lists.create_list(actor=supervisor, now=NOW, lead_unit_id=district.id, kind="campaign",
                                     name="压测燃气专项")
        db.session.flush()
        template = db.session.scalars(select(InspectionTemplate.id)).first()
        officers = list(db.session.scalars(select(User.id).where(User.role == "officer").limit(4)))
        params = {"now": NOW, "n": PARTIES, "points": world.points, "npoints": len(world.points),
                  "grids": [g for g, _ in world.grids], "units": [u for _, u in world.grids], "ppg": 10,
                  "template": template, "officers": (officers * 4)[:4], "list": campaign.id,
                  "unit": supervisor.unit_id}
        campaign_id, supervisor_id = campaign.id, supervisor.id
        db.session.commit()
    with psycopg.connect(libpq_url(database), autocommit=True) as conn:
        for sql in (PARTIES_SQL, INSPECTIONS_SQL):
            with conn.transaction():
                for statement in filter(str.strip, sql.split(";")):
                    conn.execute(statement, params)
        for table in ("parties", "party_tags", "inspections", "rectification_orders", "inspection_findings",
                      "reinspections", "problems"):
            conn.execute(f"VACUUM ANALYZE {table}")
    with app.app_context():
        coverage.set_scope(actor=db.session.get(User, supervisor_id), now=NOW, list_id=campaign_id,
                           template_code="gas_safety", tags=["bottled_gas"])
        db.session.commit()
    return campaign_id, supervisor_id


def measure(database: str, campaign_id: int, supervisor_id: int) -> dict:
    """Wall time per call, and CPU per call (this process plus the database backends): the CPU figure is what a
    call costs when it has the machine to itself, whatever else the shared cores are doing."""
    import time

    from models import User
    from models.base import db
    from workflow.inspections import coverage

    app = make_app(database)
    with app.app_context():
        actor = db.session.get(User, supervisor_id)
        calls, totals = [], None
        for index in range(SAMPLES + 3):
            if index == 3:  # after the warm-up
                cpu_before, db_before = time.process_time(), database_cpu(database)
            seconds, result = timed(coverage.coverage, actor=actor, list_id=campaign_id)
            db.session.rollback()
            calls.append(seconds * 1000)
            totals = result["totals"]
        cpu_ms = ((time.process_time() - cpu_before) + (database_cpu(database) - db_before)) * 1000 / SAMPLES
    requests = _requests(app, campaign_id, supervisor_id)
    calls, requests = calls[3:], requests[3:]
    call_ms, request_ms = statistics.median(calls), statistics.median(requests)
    return {"parties": PARTIES, "totals": totals, "load_average": os.getloadavg()[0],
            "coverage_cpu_ms_per_call": f"{cpu_ms:.1f} {verdict(cpu_ms, TARGET_MS, at_least=False)}",
            "coverage_ms_median": f"{call_ms:.1f} {verdict(call_ms, TARGET_MS, at_least=False)}",
            "coverage_ms_p95": round(percentile(calls, 95), 1),
            "request_ms_median": f"{request_ms:.1f} {verdict(request_ms, TARGET_MS, at_least=False)}",
            "request_ms_p95": round(percentile(requests, 95), 1), "samples": len(calls)}


def _requests(app, campaign_id: int, supervisor_id: int) -> list[float]:
    """The whole request through the app (token check, the query, JSON), in milliseconds."""
    from models import User
    from models.base import db
    from workflow.auth import issue_token

    with app.app_context():
        _, token = issue_token(user=db.session.get(User, supervisor_id), now=NOW, label="bench")
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    samples = []
    for _ in range(SAMPLES + 3):
        seconds, response = timed(client.get, f"/api/v1/problem-lists/{campaign_id}/coverage", headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        samples.append(seconds * 1000)
    return samples


def main() -> None:
    with scratch_database("coverage") as database:
        campaign_id, supervisor_id = build(database)
        report("coverage", measure(database, campaign_id, supervisor_id))


if __name__ == "__main__":
    main()
