"""Migrations are online-safe on PostgreSQL: none holds a lock that blocks writes to `problems` or
`problem_events` while it does work that grows with the table (a rewrite, a scan, an index build).

How it is checked: every migration runs in a transaction of its own on a database with rows in both tables;
just before each commit, the transaction's own locks (pg_locks) and its own table statistics
(pg_stat_xact_user_tables) say whether it took a write-blocking lock (SHARE or stronger) on one of them
*and* rewrote, scanned, or built an index on it. A brief ACCESS EXCLUSIVE lock that touches no rows (adding a
nullable column, a NOT VALID constraint, a trigger) is fine: with `lock_timeout` set for the migration role
(README, Upgrades) it waits seconds at most. Work that must scan goes outside the migration's transaction:
`CREATE INDEX CONCURRENTLY` in `op.get_context().autocommit_block()`, `VALIDATE CONSTRAINT` (SHARE UPDATE
EXCLUSIVE), backfills in batches. (Statements in an autocommit block run outside the transaction this test
watches: keep only such statements there.)

The migrations up to f1a2b3c4d5e6 predate the rule: they ran on every database there is, empty or during the
field trial's maintenance windows (docs/decisions/0052-online-migrations.md); the test shows it sees what
several of them did.
"""

from collections import Counter

import pytest
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import event, text

from models import db
from tests.conftest import NOW
from tests.factories import World

WATCHED = ("problems", "problem_events")
# Modes that conflict with ROW EXCLUSIVE (what INSERT/UPDATE/DELETE take): holding one blocks every writer.
BLOCKS_WRITES = ("ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")
# Every revision up to f1a2b3c4d5e6, the head when this rule was made (see the module docstring); a migration
# added after it must pass. Several of these did long-locking work, as the test shows.
BEFORE_THE_RULE = {"0ca1a8aacd23", "aec884409a1f", "d09b1c1a7a2b", "eaed32b769cd", "3cb2576423f3", "a5e1d2c3b4a5",
                   "b8a1e7c0d9f1", "c8d2f4a6b1e3", "d7e3b5c9a2f4", "e3b1c7d9f2a4", "f1a2b3c4d5e6"}

STATE = """
SELECT c.relname, c.relfilenode, (SELECT count(*) FROM pg_index i WHERE i.indrelid = c.oid) AS indexes
FROM pg_class c WHERE c.relname = ANY(:tables) AND c.relkind = 'r'
"""
ROWS = {"problems": "SELECT count(*) FROM problems", "problem_events": "SELECT count(*) FROM problem_events"}
LOCKS = """
SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE l.pid = pg_backend_pid() AND l.granted AND c.relname = ANY(:tables)
"""
WORK = """
SELECT relname, seq_tup_read + coalesce(idx_tup_fetch, 0), n_tup_upd + n_tup_del
FROM pg_stat_xact_user_tables WHERE relname = ANY(%s)
"""


class Work:
    """Rows the statements of a transaction read and changed in the watched tables, each statement measured
    around itself: a backend's pending statistics also hold earlier transactions' until it flushes them."""

    def __init__(self):
        self.read, self.changed, self._base = Counter(), Counter(), {}

    def watch(self, target) -> None:
        event.listen(target, "before_cursor_execute", self._before)
        event.listen(target, "after_cursor_execute", self._after)

    def forget(self, target) -> None:
        event.remove(target, "before_cursor_execute", self._before)
        event.remove(target, "after_cursor_execute", self._after)

    def clear(self) -> None:
        self.read.clear()
        self.changed.clear()

    def _before(self, conn, cursor, *_args) -> None:
        self._base = _counts(cursor.connection)

    def _after(self, conn, cursor, *_args) -> None:
        if not conn.in_transaction():  # an autocommit statement: the backend may have flushed meanwhile
            return
        for table, (read, changed) in _counts(cursor.connection).items():
            base = self._base.get(table, (0, 0))
            self.read[table] += read - base[0]
            self.changed[table] += changed - base[1]


def _counts(dbapi_connection) -> dict[str, tuple[int, int]]:
    with dbapi_connection.cursor() as cursor:  # a cursor of its own: no SQLAlchemy event, no recursion
        cursor.execute(WORK, (list(WATCHED),))
        return {table: (read, changed) for table, read, changed in cursor.fetchall()}


def table_state(conn) -> dict[str, tuple]:
    """Each watched table's file, index count and rows."""
    return {row.relname: (row.relfilenode, row.indexes, conn.execute(text(ROWS[row.relname])).scalar_one())
            for row in conn.execute(text(STATE), {"tables": list(WATCHED)}).all()}


def long_locks(conn, before: dict[str, tuple], work: Work) -> list[str]:
    """What the current transaction did to a watched table while holding a write-blocking lock on it."""
    read, changed = dict(work.read), dict(work.changed)  # before this function's own queries add to them
    blocking = {row.relname: row.mode for row in conn.execute(text(LOCKS), {"tables": list(WATCHED)})
                if row.mode in BLOCKS_WRITES}
    after, found = table_state(conn), []
    for table, mode in sorted(blocking.items()):
        if table not in before:  # created by this very transaction: nobody else can be writing to it
            continue
        did = []
        if after[table][0] != before[table][0]:
            did.append("rewrote it")
        if after[table][1] > before[table][1]:
            did.append("built an index")
        if before[table][2] and read.get(table, 0) >= before[table][2]:
            did.append("read every row")
        if changed.get(table):
            did.append(f"changed {changed[table]} rows")
        if did:
            found.append(f"{table}: {mode} while it {', '.join(did)}")
    return found


@pytest.fixture
def watched_upgrade(scratch):
    """Upgrade step by step, one transaction per migration, recording long locks per revision."""
    migrate = current_app.extensions["migrate"]  # the scratch app's
    seen: dict[str, list[str]] = {}
    before: dict[str, tuple] = {}
    work = Work()

    def on_version_apply(ctx, step, heads, run_args):
        seen[step.up_revision_id] = long_locks(ctx.connection, before, work)
        before.clear()
        before.update(table_state(ctx.connection))
        work.clear()

    saved = dict(migrate.configure_args)
    migrate.configure_args.update(transaction_per_migration=True, on_version_apply=on_version_apply)
    work.watch(db.engine)
    try:
        yield scratch, seen
    finally:
        work.forget(db.engine)
        migrate.configure_args.clear()
        migrate.configure_args.update(saved)


def test_no_migration_holds_a_write_blocking_lock_on_problems_or_events_while_it_scans(watched_upgrade):
    directory, seen = watched_upgrade
    upgrade(directory=directory, revision="0ca1a8aacd23")  # the tables, then rows in them
    _fill_the_first_schema()
    upgrade(directory=directory)
    assert len(seen) >= 10  # every migration after the first was watched
    offending = {revision: found for revision, found in seen.items() if found}
    assert {revision: found for revision, found in offending.items() if revision not in BEFORE_THE_RULE} == {}
    # The check sees what the old ones did: an index built under SHARE, a backfill under ACCESS EXCLUSIVE.
    assert offending["d7e3b5c9a2f4"] == ["problems: ShareLock while it built an index, read every row"]
    assert offending["b8a1e7c0d9f1"] == ["problem_events: AccessExclusiveLock while it read every row, "
                                         "changed 2000 rows"]


def _fill_the_first_schema() -> None:
    """A few problems and their trails, written by the first revision's tables (raw SQL: no model yet)."""
    statements = [
        "INSERT INTO units (id, name, kind, path, timezone, created_at) "
        "VALUES (1, 'u', 'district', '/1/', 'Asia/Shanghai', :now)",
        "INSERT INTO grids (id, name, unit_id, created_at) VALUES (1, 'g', 1, :now)",
        "INSERT INTO users (id, name, role, unit_id, token_hash, active, created_at) "
        "VALUES (1, 'o', 'officer', 1, 'h', true, :now)",
        "INSERT INTO categories (id, code, name, limits, requires_after_photo, requires_verification_photo, "
        "pause_on_extension, active) VALUES (1, 'c', 'c', '{}', false, false, false, true)",
    ]
    for statement in statements:
        db.session.execute(text(statement), {"now": NOW})
    db.session.execute(text(PROBLEMS), {"now": NOW})
    db.session.execute(text(EVENTS), {"now": NOW})
    db.session.commit()


ROWS_EACH = 2000  # enough that a lookup and a full scan differ
PROBLEMS = f"""
INSERT INTO problems (id, code, category_id, title, severity, grid_id, grid_unit_id, timezone, reporter_id,
  resolved_on_site, reported_at, updated_at, state, version, last_seq, stage_cycle, rework_count,
  escalation_level, supervised, extension_count)
SELECT n, 'C' || n, 1, 't', 'normal', 1, 1, 'Asia/Shanghai', 1, false, :now, :now, 'reported', 1, 1, 0, 0, 0,
  false, 0 FROM generate_series(1, {ROWS_EACH}) n
"""
EVENTS = f"""
INSERT INTO problem_events (problem_id, seq, action, to_state, fields, at, actor_id)
SELECT n, 1, 'report', 'reported', '{{}}', :now, 1 FROM generate_series(1, {ROWS_EACH}) n
"""


@pytest.mark.parametrize(("statement", "flagged"), [
    ("CREATE INDEX ix_probe ON problems (title)", "problems: ShareLock while it built an index, read every row"),
    ("ALTER TABLE problems ALTER COLUMN version TYPE bigint", "problems: AccessExclusiveLock while it rewrote it, "
                                                             "read every row"),
    ("ALTER TABLE problems ALTER COLUMN address SET NOT NULL", "problems: AccessExclusiveLock while it read every "
                                                               "row"),
    ("ALTER TABLE problems ADD COLUMN probe integer; UPDATE problems SET probe = 1",
     "problems: AccessExclusiveLock while it read every row, changed 3 rows"),
    ("CREATE TABLE probe (problem_id integer REFERENCES problems (id))", None),
    ("ALTER TABLE problems ADD COLUMN probe integer", None),
    ("ALTER TABLE problems ADD CONSTRAINT ck_probe CHECK (version > 0) NOT VALID", None),
    ("UPDATE problems SET title = title", None),
])
def test_the_check_tells_a_long_lock_from_a_brief_one(world, statement, flagged):
    for _ in range(3):
        world.report()
    with db.engine.connect() as conn:
        before = table_state(conn)  # in a transaction of its own: its reads are not the statement's
    work = Work()
    with db.engine.connect() as conn, conn.begin() as transaction:
        work.watch(conn)
        conn.execute(text(statement))
        found = long_locks(conn, before, work)
        transaction.rollback()
    assert found == ([flagged] if flagged else [])


def test_a_world_can_be_built_at_head_after_the_watched_upgrade(watched_upgrade):
    directory, _ = watched_upgrade
    upgrade(directory=directory)
    World.build(now=NOW)
    db.session.commit()
