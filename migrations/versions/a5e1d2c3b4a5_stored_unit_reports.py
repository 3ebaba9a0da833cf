"""stored unit reports; stage entry time and stage durations for statistics

Revision ID: a5e1d2c3b4a5
Revises: 3cb2576423f3
Create Date: 2026-11-26 18:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = 'a5e1d2c3b4a5'
down_revision = '3cb2576423f3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('unit_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('xlsx', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_unit_reports_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_reports')),
    sa.UniqueConstraint('unit_id', 'kind', 'period_start', name=op.f('uq_unit_reports_unit_id_kind_period_start'))
    )
    with op.batch_alter_table('problem_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage_natural_s', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('stage_working_s', sa.Integer(), nullable=True))
    with op.batch_alter_table('problems', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage_entered_at', models.base.UTCDateTime(timezone=True), nullable=True))
    # Open problems entered their running stage no later than its clock last started: the best we know.
    op.execute("UPDATE problems SET stage_entered_at = stage_started_at WHERE stage IS NOT NULL")


def downgrade():
    with op.batch_alter_table('problems', schema=None) as batch_op:
        batch_op.drop_column('stage_entered_at')
    with op.batch_alter_table('problem_events', schema=None) as batch_op:
        batch_op.drop_column('stage_working_s')
        batch_op.drop_column('stage_natural_s')
    op.drop_table('unit_reports')
