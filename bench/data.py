"""Bench data: the demo district plus 20 grids of 10 points, and any number of problems, fast.

Problems are written by one INSERT ... SELECT over generate_series per batch, computed in PostgreSQL (about
1,000,000 rows a minute here), each with its report event. They are consistent with the models: every state
of the lifecycle with the columns it implies (stage clocks running for open problems, paused for
suspended ones, closed_at and due_at for closed ones, units and handlers once dispatched), unique codes
(prefix BK, which the API never hands out), reported_at spread over the year before `now`, recurrence
links. Simplifications, on purpose: the trail holds the report event only (version and last_seq count
the transitions the problem went through), and open problems carry a next_check_at in the future, as if
every escalation step due so far had fired (their firings are not written).

    python -m bench.data --database NAME --size 100000     # into an existing, migrated database
"""

import argparse
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg

BATCH = 250_000
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Asia/Shanghai
GRIDS_PER_SUBDISTRICT = 10
POINTS_PER_GRID = 10


@dataclass
class World:
    tokens: dict[str, str] = field(default_factory=dict)  # supervisor, officer, handler, admin
    ids: dict[str, int] = field(default_factory=dict)  # squad (unit), handler, supervisor, officer
    grids: list[tuple[int, int]] = field(default_factory=list)  # (grid id, unit id)
    points: list[int] = field(default_factory=list)  # POINTS_PER_GRID per grid, in grid order
    categories: list[int] = field(default_factory=list)
    category_codes: list[str] = field(default_factory=list)


def build_world(app, *, now: datetime = NOW) -> World:
    """Seed the demo district (categories, escalation ladder, users) and the bench grids and points."""
    from sqlalchemy import select

    from models import Category, Unit, User
    from models.base import db
    from workflow import org, seed

    world = World()
    with app.app_context():
        issued = seed.seed_demo(now=now, timezone="Asia/Shanghai")
        units = {unit.name: unit for unit in db.session.scalars(select(Unit))}
        for parent in ("东关街道办事处", "西城街道办事处"):
            for g in range(GRIDS_PER_SUBDISTRICT):
                grid = org.create_grid(actor=None, now=now, name=f"{parent[:2]}压测网格{g + 1}",
                                       unit_id=units[parent].id)
                world.grids.append((grid.id, grid.unit_id))
                for p in range(POINTS_PER_GRID):
                    point = org.create_point(actor=None, now=now, name=f"压测点位{g + 1}-{p + 1}", grid_id=grid.id,
                                             lat=35.0 + g / 100 + p / 1000, lng=118.3 + g / 100 + p / 1000)
                    world.points.append(point.id)
        officer, token = org.create_user(actor=None, now=now, name="压测巡查", role="officer",
                                         unit_id=units["东关街道办事处"].id,
                                         grid_ids=[grid_id for grid_id, _ in world.grids])
        world.tokens["officer"], world.ids["officer"] = token, officer.id
        for user, token in issued:
            if user.role in ("supervisor", "handler", "admin") and user.role not in world.tokens:
                world.tokens[user.role], world.ids[user.role] = token, user.id
        handler = db.session.get(User, world.ids["handler"])
        world.ids["squad"] = handler.unit_id
        cats = db.session.scalars(select(Category).order_by(Category.id)).all()
        world.categories, world.category_codes = [c.id for c in cats], [c.code for c in cats]
        db.session.commit()
    return world


# States by i % 20: 7 closed, 1 cancelled, 2 reported, 2 assigned, 4 rectifying, 2 verifying, 1 verified,
# 1 suspended. Clock limits are natural minutes here (a bench simplification; the category decides in the API).
PROBLEMS_SQL = """
WITH src AS (
  SELECT i,
         CASE WHEN i %% 20 < 7 THEN 'closed' WHEN i %% 20 = 7 THEN 'cancelled'
              WHEN i %% 20 < 10 THEN 'reported' WHEN i %% 20 < 12 THEN 'assigned'
              WHEN i %% 20 < 16 THEN 'rectifying' WHEN i %% 20 < 18 THEN 'verifying'
              WHEN i %% 20 = 18 THEN 'verified' ELSE 'suspended' END AS state,
         %(now)s::timestamptz - ((i::bigint * 2654435761) %% (365 * 86400)) * interval '1 second'
           AS reported_at,
         (i / 7) %% %(ngrids)s AS g,
         ((i::bigint * 40503) %% %(ncats)s)::int AS c
  FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i
), rows AS (
  SELECT src.*,
         (%(grids)s::int[])[g + 1] AS grid_id, (%(grid_units)s::int[])[g + 1] AS grid_unit_id,
         CASE WHEN i %% 3 = 0 THEN NULL
              ELSE (%(points)s::int[])[g * %(ppg)s + (i / 11) %% %(ppg)s + 1] END AS point_id,
         (%(categories)s::int[])[c + 1] AS category_id,
         state NOT IN ('reported', 'cancelled') OR (state = 'cancelled' AND i %% 2 = 0) AS dispatched,
         CASE state WHEN 'reported' THEN 'dispatch' WHEN 'assigned' THEN 'accept' WHEN 'rectifying' THEN 'rectify'
                    WHEN 'verifying' THEN 'verify' WHEN 'suspended' THEN 'rectify' END AS stage,
         CASE state WHEN 'reported' THEN 60 WHEN 'assigned' THEN 120 WHEN 'rectifying' THEN 960
                    WHEN 'verifying' THEN 480 WHEN 'suspended' THEN 960 END AS limit_min
  FROM src
)
INSERT INTO problems (
  id, code, state, category_id, title, description, severity, point_id, grid_id, grid_unit_id, lat, lng,
  address, timezone, unit_id, handler_id, reporter_id, submitted_by_id, verified_by_id, resolved_on_site,
  observed_at, reported_at, updated_at, closed_at, stage, stage_cycle, stage_started_at, stage_limit_s,
  stage_elapsed_s, stage_warn_at, stage_due_at, work_started_at, whole_started_at, due_at, paused_at,
  stage_warn_left_s, stage_left_s, whole_left_s, next_check_at, rework_count, escalation_level, supervised,
  extension_count, version, last_seq)
SELECT
  i, 'BK-' || to_char(reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-' || i, state, category_id,
  '压测问题 ' || i, CASE WHEN i %% 4 = 0 THEN '占道经营，影响通行' END,
  (ARRAY['low', 'normal', 'normal', 'high', 'urgent'])[i %% 5 + 1], point_id, grid_id, grid_unit_id,
  35.0 + (i %% 1000) / 10000.0, 118.3 + (i %% 997) / 10000.0, '压测路 ' || (i %% 500) || ' 号',
  'Asia/Shanghai',
  CASE WHEN dispatched THEN %(squad)s END, CASE WHEN dispatched THEN %(handler)s END, %(officer)s,
  CASE WHEN state IN ('verifying', 'verified', 'closed') THEN %(handler)s END,
  CASE WHEN state IN ('verified', 'closed') THEN %(officer)s END, false,
  NULL, reported_at, reported_at + interval '2 hours',
  CASE WHEN state = 'closed' THEN reported_at + (4 + i %% 90) * interval '1 hour' END,
  CASE WHEN state = 'suspended' THEN 'rectify' ELSE stage END,
  CASE WHEN stage IS NULL THEN 2 ELSE 3 END,
  CASE WHEN stage IS NOT NULL AND state <> 'suspended' THEN reported_at + interval '1 hour' END,
  limit_min * 60, 0,
  CASE WHEN stage IS NOT NULL AND state <> 'suspended'
       THEN reported_at + interval '1 hour' + limit_min * 0.8 * interval '1 minute' END,
  CASE WHEN stage IS NOT NULL AND state <> 'suspended'
       THEN reported_at + interval '1 hour' + limit_min * interval '1 minute' END,
  CASE WHEN state IN ('rectifying', 'verifying', 'verified', 'closed', 'suspended')
       THEN reported_at + interval '1 hour' END,
  CASE WHEN dispatched THEN reported_at + interval '30 minutes' END,
  CASE WHEN dispatched AND state <> 'suspended' THEN reported_at + interval '2 days' END,
  CASE WHEN state = 'suspended' THEN reported_at + interval '3 hours' END,
  CASE WHEN state = 'suspended' THEN 3600 END, CASE WHEN state = 'suspended' THEN 7200 END,
  CASE WHEN state = 'suspended' THEN 86400 END,
  CASE WHEN state NOT IN ('closed', 'cancelled', 'suspended')
       THEN %(now)s::timestamptz + (60 + i %% 5000) * interval '1 minute' END,
  CASE WHEN i %% 17 = 0 AND dispatched THEN 1 ELSE 0 END, 0, false,
  CASE WHEN i %% 23 = 0 AND dispatched THEN 1 ELSE 0 END,
  CASE state WHEN 'reported' THEN 1 WHEN 'assigned' THEN 2 WHEN 'rectifying' THEN 3 WHEN 'verifying' THEN 4
             WHEN 'verified' THEN 5 WHEN 'closed' THEN 6 WHEN 'suspended' THEN 4 ELSE 2 END,
  CASE state WHEN 'reported' THEN 1 WHEN 'assigned' THEN 2 WHEN 'rectifying' THEN 3 WHEN 'verifying' THEN 4
             WHEN 'verified' THEN 5 WHEN 'closed' THEN 6 WHEN 'suspended' THEN 4 ELSE 2 END
FROM rows
"""

EVENT_COLUMNS = ("problem_id", "seq", "action", "actor_id", "actor_name", "actor_role", "to_state", "fields", "at",
                 "prev_hash", "hash")


def _copy_report_events(conn: psycopg.Connection, first: int, last: int) -> None:
    """Each problem's report event, sealed into its hash chain exactly as workflow/audit.py does."""
    from workflow.audit import GENESIS, chain_hash

    rows = conn.execute("SELECT id, reporter_id, reported_at FROM problems WHERE id BETWEEN %s AND %s ORDER BY id",
                        (first, last)).fetchall()
    with conn.cursor().copy(f"COPY problem_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
        for problem_id, reporter_id, reported_at in rows:
            content = {"problem_id": problem_id, "seq": 1, "action": "report", "actor_id": reporter_id,
                       "actor_name": "压测巡查", "actor_role": "officer", "to_state": "reported", "fields": {},
                       "at": reported_at}
            copy.write_row([*(content[name] if name != "fields" else "{}" for name in EVENT_COLUMNS[:-2]),
                            GENESIS, chain_hash(GENESIS, content)])


# Realistic trails for the month the statistics bench asks for: each problem reported in it leaves its four
# stages (dispatch, accept, rectify, verify), one stage-ending event each after its report event.
MONTH = (datetime(2026, 9, 30, 16, 0, tzinfo=UTC), datetime(2026, 10, 31, 16, 0, tzinfo=UTC))  # October, Shanghai
TRAIL = (("assign", "reported", "assigned", "dispatch", 300, 7200),
         ("accept", "assigned", "rectifying", "accept", 120, 3600),
         ("submit", "rectifying", "verifying", "rectify", 3600, 172800),
         ("verify", "verifying", "verified", "verify", 600, 14400))
TRAIL_COLUMNS = ("problem_id", "seq", "action", "actor_id", "actor_name", "actor_role", "from_state", "to_state",
                 "fields", "stage", "stage_natural_s", "stage_working_s", "at", "prev_hash", "hash")


def add_trails(database_url: str, *, period: tuple[datetime, datetime] = MONTH) -> tuple[int, float]:
    """Give every problem reported in `period` that has only its report event four stage-ending events (seq 2-5),
    sealed onto its chain as workflow/audit.py does; returns (events written, seconds taken). The stage times
    vary with the problem's id; working seconds are 60 % of natural ones. `problems` is left as it is (its
    version and last_seq already count such transitions, see the module docstring)."""
    began = time.perf_counter()
    with psycopg.connect(database_url, autocommit=False) as conn:
        rows = conn.execute(
            "SELECT p.id, p.reporter_id, p.reported_at, e.hash FROM problems AS p "
            "JOIN problem_events AS e ON e.problem_id = p.id AND e.seq = 1 "
            "WHERE p.reported_at >= %s AND p.reported_at < %s "
            "AND NOT EXISTS (SELECT 1 FROM problem_events AS t WHERE t.problem_id = p.id AND t.seq = 2) "
            "ORDER BY p.id", period).fetchall()
        with conn.cursor().copy(f"COPY problem_events ({', '.join(TRAIL_COLUMNS)}) FROM STDIN") as copy:
            for problem_id, reporter_id, reported_at, head in rows:
                for row in _trail(problem_id, reporter_id, reported_at, head):
                    copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE problem_events")
        conn.execute("VACUUM ANALYZE stage_spans")
    return len(rows) * len(TRAIL), time.perf_counter() - began


def _trail(problem_id: int, reporter_id: int, reported_at: datetime, head: str):
    from workflow.audit import chain_hash

    at = reported_at
    for seq, (action, before, after, stage, least, spread) in enumerate(TRAIL, start=2):
        natural = least + (problem_id * (31 + 2 * seq)) % spread
        at += timedelta(seconds=natural)
        content = {"problem_id": problem_id, "seq": seq, "action": action, "actor_id": reporter_id,
                   "actor_name": "压测巡查", "actor_role": "officer", "from_state": before, "to_state": after,
                   "fields": {}, "stage": stage, "stage_natural_s": natural, "stage_working_s": natural * 3 // 5,
                   "at": at}
        hashed = chain_hash(head, content)
        yield [*(content[name] if name != "fields" else "{}" for name in TRAIL_COLUMNS[:-2]), head, hashed]
        head = hashed


RECURRENCE_SQL = """
UPDATE problems SET recurrence_of = (
    SELECT e.id FROM problems AS e
    WHERE e.point_id = problems.point_id AND e.category_id = problems.category_id AND e.state <> 'cancelled'
      AND (e.reported_at, e.id) < (problems.reported_at, problems.id)
      AND e.reported_at >= problems.reported_at - interval '30 days'
    ORDER BY e.reported_at DESC, e.id DESC LIMIT 1)
WHERE point_id IS NOT NULL
"""


def add_problems(database_url: str, world: World, *, first: int, count: int, now: datetime = NOW) -> float:
    """Insert problems with ids first .. first+count-1 and their report events; returns the seconds taken."""
    began = time.perf_counter()
    params = {"now": now, "ngrids": len(world.grids), "ncats": len(world.categories),
              "grids": [g for g, _ in world.grids], "grid_units": [u for _, u in world.grids],
              "points": world.points, "ppg": POINTS_PER_GRID, "categories": world.categories,
              "squad": world.ids["squad"], "handler": world.ids["handler"], "officer": world.ids["officer"]}
    with psycopg.connect(database_url, autocommit=False) as conn:
        for start in range(first, first + count, BATCH):
            last = min(start + BATCH, first + count) - 1
            conn.execute(PROBLEMS_SQL, params | {"first": start, "last": last})
            _copy_report_events(conn, start, last)
            conn.commit()
        # What each problem repeats, as reports link it (the generated times interleave batches: link them all).
        conn.execute(RECURRENCE_SQL)
        conn.execute("SELECT setval('problems_id_seq', (SELECT max(id) FROM problems))")
        conn.execute("SELECT setval('problem_events_id_seq', (SELECT max(id) FROM problem_events))")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE problems")
        conn.execute("VACUUM ANALYZE problem_events")
    return time.perf_counter() - began


def main() -> None:
    from bench.common import libpq_url, make_app

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", required=True, help="an existing database on BENCH_DATABASE_URL's server")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--migrate", action="store_true", help="run the migrations and seed the world first")
    args = parser.parse_args()
    app = make_app(args.database)
    if args.migrate:
        from bench.common import migrate
        migrate(app)
    world = build_world(app)
    seconds = add_problems(libpq_url(args.database), world, first=1, count=args.size)
    print(f"{args.size} problems in {seconds:.1f} s")


if __name__ == "__main__":
    main()
