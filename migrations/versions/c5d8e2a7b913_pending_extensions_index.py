"""an index of the problems whose extension waits for a decision

Revision ID: c5d8e2a7b913
Revises: e16a0c1d2b3f
Create Date: 2026-12-03 17:45:00

The to-do queue's `decide_extension` kind (and the console's desk that lists it) asks for rectifying problems
with a pending extension, soonest deadline first. `extension_until` is set only while a request waits (a
decision or a withdrawal clears it), so a partial index over those few rows answers in an index range where a
scan of every rectifying problem took ~400 ms at a million problems (bench/RESULTS.md). Built CONCURRENTLY on
PostgreSQL: writers to problems are never blocked.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c5d8e2a7b913'
down_revision = 'e16a0c1d2b3f'
branch_labels = None
depends_on = None

NAME = 'ix_problems_pending_extension'


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NAME} ON problems (stage_due_at, id) "
                       "WHERE extension_until IS NOT NULL")
    else:
        op.execute(f"CREATE INDEX IF NOT EXISTS {NAME} ON problems (stage_due_at, id) "
                   "WHERE extension_until IS NOT NULL")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
    else:
        op.execute(f"DROP INDEX IF EXISTS {NAME}")
