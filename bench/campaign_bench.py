"""A large 五星支部 drive on PostgreSQL: how long its rolled-up progress (`GET /api/v1/problem-lists/{id}`) and its
campaign report (`GET /api/v1/problem-lists/{id}/report`, XLSX) take.

The data: the bench district's problems (BENCH_CAMPAIGN_PROBLEMS, default 5,000, the bench's usual mix of states),
a drive with five stars, every problem on two stars (10,000 memberships), and 300 activity days. Targets: the
list with its progress ≤ 200 ms; the report ≤ 5 s (a street office's campaign holds hundreds to a few thousand
items). Printed: medians and p95 of the workflow calls and of the whole requests, and the load average.

    python -m bench.campaign_bench            # BENCH_CAMPAIGN_PROBLEMS to change the size, BENCH_RUNS
"""

import os
import statistics

import psycopg

from bench.common import libpq_url, make_app, migrate, percentile, report, scratch_database, timed, verdict
from bench.data import NOW, add_problems, build_world

PROBLEMS = int(os.environ.get("BENCH_CAMPAIGN_PROBLEMS", "5000"))
ACTIVITIES = 300
RUNS = max(int(os.environ.get("BENCH_RUNS", "3")), 1)  # reports per measure; progress calls: 5 times as many
PROGRESS_MS, REPORT_MS = 200, 5000

MEMBERS_SQL = """
INSERT INTO problem_list_items (list_id, problem_id, added_at)
SELECT (%(stars)s::int[])[(p.id %% 5) + 1], p.id, %(now)s FROM problems AS p
UNION ALL
SELECT (%(stars)s::int[])[((p.id + 2) %% 5) + 1], p.id, %(now)s FROM problems AS p;
INSERT INTO campaign_activities (list_id, kind, starts_at, ends_at, place, unit_id, timezone, participants,
                                 volunteers, reached, materials, note, created_by_id, created_at)
SELECT (%(stars)s::int[])[(i %% 5) + 1], (ARRAY['volunteer_day', 'publicity', 'cleaning', 'training'])[i %% 4 + 1],
       %(now)s - i * interval '7 hours', %(now)s - i * interval '7 hours' + interval '2 hours', '社区广场 ' || i,
       %(unit)s, 'Asia/Shanghai', 20 + i %% 30, 10 + i %% 7, 100 + i, 50 * (i %% 3), '压测活动', %(user)s, %(now)s
FROM generate_series(1, %(activities)s) AS i;
"""


def build(database: str) -> tuple[int, int, str]:
    """The data; returns (drive id, supervisor id, a supervisor token)."""
    from sqlalchemy import select

    from models import Unit, User
    from models.base import db
    from workflow.auth import issue_token
    from workflow.ledger import lists

    app = make_app(database)
    migrate(app)
    world = build_world(app)
    add_problems(libpq_url(database), world, first=1, count=PROBLEMS)
    with app.app_context():
        supervisor = db.session.get(User, world.ids["supervisor"])
        district = db.session.scalars(select(Unit).where(Unit.parent_id.is_(None))).first()
        drive = lists.create_list(actor=supervisor, now=NOW, lead_unit_id=district.id, kind="campaign",
                                  name="压测五星支部创建")
        stars = [lists.create_list(actor=supervisor, now=NOW, lead_unit_id=district.id, kind="star",
                                   name=f"第{n}星", parent_id=drive.id).id for n in range(1, 6)]
        _, token = issue_token(user=supervisor, now=NOW, label="bench")
        ids = (drive.id, supervisor.id, token)
        params = {"stars": stars, "now": NOW, "unit": district.id, "user": supervisor.id, "activities": ACTIVITIES}
        db.session.commit()
    with psycopg.connect(libpq_url(database), autocommit=True) as conn:
        with conn.transaction():
            for statement in filter(str.strip, MEMBERS_SQL.split(";")):
                conn.execute(statement, params)
        for table in ("problem_list_items", "campaign_activities"):
            conn.execute(f"VACUUM ANALYZE {table}")
    return ids


def measure(database: str, drive_id: int, supervisor_id: int, token: str) -> dict:
    from models import ProblemList, User
    from models.base import db
    from workflow.ledger import campaign_report, lists

    app = make_app(database)
    with app.app_context():
        actor, drive = db.session.get(User, supervisor_id), db.session.get(ProblemList, drive_id)
        progress = [timed(lists.progress, drive, NOW) for _ in range(RUNS * 5 + 3)][3:]
        reports = [timed(campaign_report.workbook, actor=actor, list_id=drive_id, now=NOW) for _ in range(RUNS)]
        figures = progress[-1][1]
        size = len(reports[-1][1][1])
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    requests = [timed(client.get, f"/api/v1/problem-lists/{drive_id}", headers=headers)[0]
                for _ in range(RUNS * 5 + 3)][3:]
    report_requests = [timed(client.get, f"/api/v1/problem-lists/{drive_id}/report", headers=headers)[0]
                       for _ in range(RUNS)]
    progress_ms = [seconds * 1000 for seconds, _ in progress]
    report_ms = [seconds * 1000 for seconds, _ in reports]
    request_ms, report_request_ms = [s * 1000 for s in requests], [s * 1000 for s in report_requests]
    return {"problems": PROBLEMS, "memberships": figures["total"], "activities": ACTIVITIES,
            "load_average": os.getloadavg()[0],
            "progress_ms_median": f"{statistics.median(progress_ms):.1f} "
                                  f"{verdict(statistics.median(progress_ms), PROGRESS_MS, at_least=False)}",
            "progress_ms_p95": round(percentile(progress_ms, 95), 1),
            "list_request_ms_median": f"{statistics.median(request_ms):.1f} "
                                      f"{verdict(statistics.median(request_ms), PROGRESS_MS, at_least=False)}",
            "report_ms_median": f"{statistics.median(report_ms):.0f} "
                                f"{verdict(statistics.median(report_ms), REPORT_MS, at_least=False)}",
            "report_request_ms_median": round(statistics.median(report_request_ms)),
            "report_bytes": size}


def main() -> None:
    with scratch_database("campaign") as database:
        report("campaign", measure(database, *build(database)))


if __name__ == "__main__":
    main()
