"""problem recurrence link

Revision ID: e3b1c7d9f2a4
Revises: d7e3b5c9a2f4
Create Date: 2026-11-26 19:45:00.000000

"""
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = 'e3b1c7d9f2a4'
down_revision = 'd7e3b5c9a2f4'
branch_labels = None
depends_on = None

# Each problem's latest earlier problem of the same category at the same point, not cancelled, reported in the
# 30 days before it (ties by id): what workflow.problems.actions links at every report from now on.
BACKFILL = """
UPDATE problems SET recurrence_of = (
    SELECT e.id FROM problems AS e
    WHERE e.point_id = problems.point_id AND e.category_id = problems.category_id AND e.state <> 'cancelled'
      AND (e.reported_at, e.id) < (problems.reported_at, problems.id) AND e.reported_at >= {window_start}
    ORDER BY e.reported_at DESC, e.id DESC LIMIT 1)
WHERE point_id IS NOT NULL
"""


@contextmanager
def _sqlite_foreign_keys_off():
    """SQLite rebuilds `problems` to add a foreign key; with foreign keys on, dropping the old table would
    cascade into (or be refused by) every table that references problems. The pragma only takes effect
    outside a transaction, so end it, rebuild with the check off, verify, and begin again."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    bind.exec_driver_sql("BEGIN IMMEDIATE")
    yield
    broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"foreign keys broken by the problems rebuild: {broken[:5]}")
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=ON")
    bind.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade():
    with _sqlite_foreign_keys_off():
        with op.batch_alter_table('problems', schema=None) as batch_op:
            batch_op.add_column(sa.Column('recurrence_of', sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f('ix_problems_recurrence_of'), ['recurrence_of'], unique=False)
            batch_op.create_foreign_key(batch_op.f('fk_problems_recurrence_of_problems'), 'problems',
                                        ['recurrence_of'], ['id'])
    sqlite = op.get_bind().dialect.name == "sqlite"
    window_start = "datetime(problems.reported_at, '-30 days')" if sqlite else "problems.reported_at - interval '30 days'"
    op.execute(BACKFILL.format(window_start=window_start))


def downgrade():
    with _sqlite_foreign_keys_off():
        with op.batch_alter_table('problems', schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f('fk_problems_recurrence_of_problems'), type_='foreignkey')
            batch_op.drop_index(batch_op.f('ix_problems_recurrence_of'))
            batch_op.drop_column('recurrence_of')
