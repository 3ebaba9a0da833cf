"""checklist outcomes: what a round found of each problem it listed for verification or a follow-up look

Revision ID: 8e4f2a6c1d39
Revises: 5b2d8f1c4e67
Create Date: 2026-12-03 13:55:00
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = '8e4f2a6c1d39'
down_revision = '5b2d8f1c4e67'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'checklist_outcomes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('problem_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('outcome', sa.String(length=12), nullable=False),
        sa.Column('finding_id', sa.Integer(), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('recorded_by_id', sa.Integer(), nullable=False),
        sa.Column('recorded_at', models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['finding_id'], ['problems.id'], name=op.f('fk_checklist_outcomes_finding_id_problems')),
        sa.ForeignKeyConstraint(['problem_id'], ['problems.id'], name=op.f('fk_checklist_outcomes_problem_id_problems')),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'],
                                name=op.f('fk_checklist_outcomes_recorded_by_id_users')),
        sa.ForeignKeyConstraint(['round_id'], ['patrol_rounds.id'],
                                name=op.f('fk_checklist_outcomes_round_id_patrol_rounds')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_checklist_outcomes')),
        sa.UniqueConstraint('round_id', 'problem_id', name=op.f('uq_checklist_outcomes_round_id_problem_id')),
    )
    op.create_index(op.f('ix_checklist_outcomes_problem_id'), 'checklist_outcomes', ['problem_id'], unique=False)
    op.create_index(op.f('ix_checklist_outcomes_round_id'), 'checklist_outcomes', ['round_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_checklist_outcomes_round_id'), table_name='checklist_outcomes')
    op.drop_index(op.f('ix_checklist_outcomes_problem_id'), table_name='checklist_outcomes')
    op.drop_table('checklist_outcomes')
