"""possible_duplicate_of, and recurrence_of only for problems fixed before the report

Revision ID: 5b2d8f1c4e67
Revises: 3a7c0e5d9b13
Create Date: 2026-12-03 13:10:00

A report names, of the earlier problems of its category at its point, the latest one that was verified or
closed when it was reported (recurrence_of, within 30 days) or the latest one still open then
(possible_duplicate_of): what workflow/problems/recurrence.py links from now on. Both are recomputed for the
existing problems from their trails.
"""
from alembic import op
import sqlalchemy as sa


revision = '5b2d8f1c4e67'
down_revision = '3a7c0e5d9b13'
branch_labels = None
depends_on = None

STATE_THEN = """(SELECT ev.to_state FROM problem_events AS ev WHERE ev.problem_id = e.id
                 AND ev.at <= problems.reported_at ORDER BY ev.seq DESC LIMIT 1)"""
LATEST = """(SELECT e.id FROM problems AS e
    WHERE e.point_id = problems.point_id AND e.category_id = problems.category_id AND e.state <> 'cancelled'
      AND (e.reported_at < problems.reported_at OR (e.reported_at = problems.reported_at AND e.id < problems.id))
      AND {condition}
    ORDER BY e.reported_at DESC, e.id DESC LIMIT 1)"""
FIXED = "('verified', 'closed')"
STILL_OPEN = "('reported', 'assigned', 'rectifying', 'verifying', 'suspended')"


def upgrade():
    bind = op.get_bind()
    sqlite = bind.dialect.name == 'sqlite'
    window = "e.reported_at >= " + ("datetime(problems.reported_at, '-30 days')" if sqlite
                                    else "problems.reported_at - interval '30 days'")
    recurrence = LATEST.format(condition=f"{window} AND {STATE_THEN} IN {FIXED}")
    duplicate = LATEST.format(condition=f"{STATE_THEN} IN {STILL_OPEN}")
    backfill = (f"UPDATE problems SET recurrence_of = {recurrence}, possible_duplicate_of = {duplicate} "
                "WHERE point_id IS NOT NULL")
    if sqlite:  # SQLite adds a column with its reference in place; no rebuild of problems needed
        op.execute('ALTER TABLE problems ADD COLUMN possible_duplicate_of INTEGER '
                   'CONSTRAINT fk_problems_possible_duplicate_of_problems REFERENCES problems (id)')
        op.create_index(op.f('ix_problems_possible_duplicate_of'), 'problems', ['possible_duplicate_of'])
        op.execute(backfill)
        return
    # PostgreSQL, online (docs/decisions/0052): a nullable column and a NOT VALID key touch no row; the key is
    # validated under SHARE UPDATE EXCLUSIVE; the index and the backfill run outside the migration's
    # transaction, so no lock that blocks writers is held while rows are read or written.
    op.add_column('problems', sa.Column('possible_duplicate_of', sa.Integer(), nullable=True))
    op.execute('ALTER TABLE problems ADD CONSTRAINT fk_problems_possible_duplicate_of_problems '
               'FOREIGN KEY (possible_duplicate_of) REFERENCES problems (id) NOT VALID')
    with op.get_context().autocommit_block():
        op.execute('ALTER TABLE problems VALIDATE CONSTRAINT fk_problems_possible_duplicate_of_problems')
        op.create_index('ix_problems_possible_duplicate_of', 'problems', ['possible_duplicate_of'],
                        postgresql_concurrently=True, if_not_exists=True)
        op.execute(backfill)


def downgrade():
    op.drop_index(op.f('ix_problems_possible_duplicate_of'), table_name='problems')
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint(op.f('fk_problems_possible_duplicate_of_problems'), 'problems', type_='foreignkey')
    op.drop_column('problems', 'possible_duplicate_of')  # SQLite 3.35+ drops a column that no index uses
