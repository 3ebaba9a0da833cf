"""open problem counts for the dashboard, kept by triggers on problems; an index on stage_warn_at

Revision ID: 9b6c2d4e1f70
Revises: 8e4f2a6c1d39
Create Date: 2026-12-03 16:10:00

Decision 0116. Every INSERT of an open problem, and every UPDATE that changes what the dashboard groups or
scopes it by (state, grid, area unit, responsible unit, the UTC day of its stage deadline and warning, frozen),
appends -1 for the old key and +1 for the new one to open_problem_counts: no row is ever updated, so writers
never wait on each other there. Problems are never deleted (their append-only trail refers to them), so there
is no DELETE trigger. The `compact_counts` job folds the rows.

Online on PostgreSQL: the triggers are created and committed first, then the counts are filled by one
statement that adds, per key, the problems it sees minus the rows the triggers wrote that it also sees, so a
write committed between the two is counted once, and nothing blocks writers while problems are read.
"""
from alembic import op
import sqlalchemy as sa


revision = '9b6c2d4e1f70'
down_revision = '8e4f2a6c1d39'
branch_labels = None
depends_on = None

COLUMNS = "grid_id, grid_unit_id, unit_id, state, due_day, warn_day, frozen, n"
WATCHED = ("state", "grid_id", "grid_unit_id", "unit_id", "stage_due_at", "stage_warn_at", "paused_at",
           "stage_left_s", "whole_left_s")
OPEN = "('closed', 'cancelled')"


def _values(row: str, sign: int, day) -> str:
    frozen = (f"{row}.paused_at IS NOT NULL AND (coalesce({row}.stage_left_s, 0) < 0 "
              f"OR coalesce({row}.whole_left_s, 0) < 0)")
    return (f"{row}.grid_id, {row}.grid_unit_id, {row}.unit_id, {row}.state, {day(f'{row}.stage_due_at')}, "
            f"{day(f'{row}.stage_warn_at')}, {frozen}, {sign}")


def _pg_day(column: str) -> str:
    return f"({column} AT TIME ZONE 'UTC')::date"


def _sqlite_day(column: str) -> str:
    return f"date({column})"


PG_FUNCTION = f"""
CREATE FUNCTION count_open_problems() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.state NOT IN {OPEN} THEN
            INSERT INTO open_problem_counts ({COLUMNS}) VALUES ({_values('OLD', -1, _pg_day)});
        END IF;
    END IF;
    IF NEW.state NOT IN {OPEN} THEN
        INSERT INTO open_problem_counts ({COLUMNS}) VALUES ({_values('NEW', 1, _pg_day)});
    END IF;
    RETURN NULL;
END
$$
"""
CHANGED_PG = f"({', '.join(f'OLD.{c}' for c in WATCHED)}) IS DISTINCT FROM ({', '.join(f'NEW.{c}' for c in WATCHED)})"
CHANGED_SQLITE = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED)

def _fill(day) -> str:
    """What the problems say per key, minus what the triggers already wrote that this statement also sees."""
    return f"""
WITH seen ({COLUMNS}) AS (
    SELECT {_values('p', 1, day)} FROM problems AS p WHERE p.state NOT IN {OPEN}
    UNION ALL
    SELECT grid_id, grid_unit_id, unit_id, state, due_day, warn_day, frozen, -n FROM open_problem_counts
)
INSERT INTO open_problem_counts ({COLUMNS})
SELECT grid_id, grid_unit_id, unit_id, state, due_day, warn_day, frozen, sum(n) FROM seen
GROUP BY grid_id, grid_unit_id, unit_id, state, due_day, warn_day, frozen
HAVING sum(n) <> 0
"""


def upgrade():
    op.create_table(
        'open_problem_counts',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('grid_id', sa.Integer(), nullable=True),
        sa.Column('grid_unit_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('due_day', sa.Date(), nullable=True),
        sa.Column('warn_day', sa.Date(), nullable=True),
        sa.Column('frozen', sa.Boolean(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_open_problem_counts')),
    )
    if op.get_bind().dialect.name == 'postgresql':
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def _upgrade_postgresql():
    op.execute(PG_FUNCTION)
    op.execute("CREATE TRIGGER problems_count_open_insert AFTER INSERT ON problems "
               "FOR EACH ROW EXECUTE FUNCTION count_open_problems()")
    op.execute(f"CREATE TRIGGER problems_count_open_update AFTER UPDATE OF {', '.join(WATCHED)} ON problems "
               f"FOR EACH ROW WHEN ({CHANGED_PG}) EXECUTE FUNCTION count_open_problems()")
    with op.get_context().autocommit_block():
        op.execute(_fill(_pg_day))
        op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_problems_stage_warn_at ON problems (stage_warn_at)")


def _upgrade_sqlite():
    insert = "INSERT INTO open_problem_counts (" + COLUMNS + ") VALUES ({values}); END"
    op.execute(f"CREATE TRIGGER problems_count_open_insert AFTER INSERT ON problems "
               f"WHEN NEW.state NOT IN {OPEN} BEGIN " + insert.format(values=_values('NEW', 1, _sqlite_day)))
    for row, sign in (("OLD", -1), ("NEW", 1)):
        op.execute(f"CREATE TRIGGER problems_count_open_update_{row.lower()} AFTER UPDATE OF {', '.join(WATCHED)} "
                   f"ON problems WHEN {row}.state NOT IN {OPEN} AND ({CHANGED_SQLITE}) BEGIN "
                   + insert.format(values=_values(row, sign, _sqlite_day)))
    op.execute(_fill(_sqlite_day))
    op.create_index('ix_problems_stage_warn_at', 'problems', ['stage_warn_at'])


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_problems_stage_warn_at")
        op.execute("DROP TRIGGER IF EXISTS problems_count_open_insert ON problems")
        op.execute("DROP TRIGGER IF EXISTS problems_count_open_update ON problems")
        op.execute("DROP FUNCTION IF EXISTS count_open_problems()")
    else:
        op.drop_index('ix_problems_stage_warn_at', table_name='problems')
        for name in ('insert', 'update_old', 'update_new'):
            op.execute(f"DROP TRIGGER IF EXISTS problems_count_open_{name}")
    op.drop_table('open_problem_counts')
