"""public intake: problem sources, outside references, reporter contact, callbacks; grid boundaries; public
categories; Open311 API keys

Revision ID: a19b0c311001
Revises: 9b6c2d4e1f70
Create Date: 2026-12-03 12:50:00

Existing problems get their source from what they are: a patrol round's finding is `patrol`, a problem about
a party found by an inspection is `inspection`, everything else `officer`.
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = 'a19b0c311001'
down_revision = '9b6c2d4e1f70'
branch_labels = None
depends_on = None

PROBLEM_COLUMNS = [
    sa.Column('source', sa.String(length=12), server_default='officer', nullable=False),
    sa.Column('external_ref', sa.String(length=64), nullable=True),
    sa.Column('contact_name', sa.String(length=100), nullable=True),
    sa.Column('contact_phone', sa.String(length=40), nullable=True),
    sa.Column('contact_email', sa.String(length=254), nullable=True),
    sa.Column('media_url', sa.String(length=2000), nullable=True),
    sa.Column('intake_attributes', sa.JSON(), nullable=True),
    sa.Column('callback_satisfaction', sa.String(length=24), nullable=True),
    sa.Column('callback_at', models.base.UTCDateTime(), nullable=True),
]


# Which existing problems are not an officer's own report (the column's default).
BACKFILLS = {
    'patrol': "round_id IS NOT NULL",
    'inspection': "round_id IS NULL AND id IN (SELECT problem_id FROM inspection_findings "
                  "WHERE problem_id IS NOT NULL)",
}
BATCH = 5000


def _backfill_sources(batched: bool):
    """Set the source of patrol findings and inspection problems; on PostgreSQL in batches, each its own short
    transaction, so writers to problems are never blocked for the length of the table."""
    bind = op.get_bind()
    for source, condition in BACKFILLS.items():
        if not batched:
            op.execute(f"UPDATE problems SET source = '{source}' WHERE {condition}")
            continue
        while bind.exec_driver_sql(
                f"UPDATE problems SET source = '{source}' WHERE id IN (SELECT id FROM problems WHERE "
                f"source = 'officer' AND {condition} LIMIT {BATCH})").rowcount:
            pass


def _indexes(**online):
    op.create_index('uq_problems_source_external_ref', 'problems', ['source', 'external_ref'], unique=True,
                    **online)
    op.create_index('ix_problems_source_reported_at', 'problems', ['source', 'reported_at'], **online)


def upgrade():
    # Nullable columns, and one with a constant default: PostgreSQL adds them without touching a row.
    for column in PROBLEM_COLUMNS:
        op.add_column('problems', column)
    op.add_column('grids', sa.Column('boundary', sa.JSON(), nullable=True))
    op.add_column('categories', sa.Column('public', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('categories', sa.Column('public_description', sa.String(length=500), nullable=True))
    op.add_column('categories', sa.Column('attributes', sa.JSON(), nullable=True))
    op.create_table(
        'open311_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
        sa.Column('revoked_at', models.base.UTCDateTime(), nullable=True),
        sa.Column('last_used_at', models.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key_hash'),
    )
    op.create_index('ix_open311_keys_user_id', 'open311_keys', ['user_id'])
    if op.get_bind().dialect.name == 'postgresql':
        # Online (docs/decisions/0052): the backfill in batches and the index builds outside the transaction.
        with op.get_context().autocommit_block():
            _backfill_sources(batched=True)
            _indexes(postgresql_concurrently=True, if_not_exists=True)
    else:
        _backfill_sources(batched=False)
        _indexes()


def downgrade():
    op.drop_index('ix_open311_keys_user_id', table_name='open311_keys')
    op.drop_table('open311_keys')
    # Plain DROP COLUMN (SQLite 3.35+ has it): a batch rebuild of problems would trip its foreign keys.
    for name in ('attributes', 'public_description', 'public'):
        op.drop_column('categories', name)
    op.drop_column('grids', 'boundary')
    op.drop_index('ix_problems_source_reported_at', table_name='problems')
    op.drop_index('uq_problems_source_external_ref', table_name='problems')
    for column in reversed(PROBLEM_COLUMNS):
        op.drop_column('problems', column.name)
