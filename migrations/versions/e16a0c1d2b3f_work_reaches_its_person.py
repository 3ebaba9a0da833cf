"""work reaches its person: inbox dedupe keys, group-chat webhook formats and scopes, robots' rate limits,
quiet hours per unit

Revision ID: e16a0c1d2b3f
Revises: a19b0c311001
Create Date: 2026-12-03 16:10:00.000000

Inbox items gain `dedupe_key` (unique per user: one row per person per cause); webhooks gain `format`
(rectify | wecom | dingtalk | feishu | email) and `unit_id` (a subtree's events only); deliveries gain the
time of their last attempt (vendors' rate limits; the lease columns came with c2d1e0f9a821); units gain quiet
hours. Users' phones (the robots' @-mentions) came with the roster (a7d0c15e0f70).

Online on PostgreSQL: added columns are nullable or have a constant default (no rewrite), the foreign key is
added NOT VALID and validated after, and nothing touches `problems` or `problem_events`.
"""
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa

import models.base

# revision identifiers, used by Alembic.
revision = 'e16a0c1d2b3f'
down_revision = 'a19b0c311001'
branch_labels = None
depends_on = None

COLUMNS = [
    ('webhooks', sa.Column('format', sa.String(length=10), server_default='rectify', nullable=False)),
    ('webhooks', sa.Column('unit_id', sa.Integer(), nullable=True)),
    ('webhook_deliveries', sa.Column('last_attempt_at', models.base.UTCDateTime(timezone=True), nullable=True)),
    ('units', sa.Column('quiet_start', sa.String(length=5), server_default='22:00', nullable=False)),
    ('units', sa.Column('quiet_end', sa.String(length=5), server_default='07:00', nullable=False)),
    ('notifications', sa.Column('dedupe_key', sa.String(length=120), nullable=True)),
]
UNIQUE = ('uq_notifications_user_id_dedupe_key', 'notifications', ['user_id', 'dedupe_key'])
FK = ('fk_webhooks_unit_id_units', 'webhooks', 'units', ['unit_id'], ['id'])


@contextmanager
def _sqlite_foreign_keys_off():
    """As in 7c3e9a1f5b20: a table rebuild with the foreign-key check off, verified afterwards."""
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
        raise RuntimeError(f"foreign keys broken by the webhooks rebuild: {broken[:5]}")
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=ON")
    bind.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade():
    for table, column in COLUMNS:
        op.add_column(table, column)
    op.create_index('ix_webhooks_unit_id', 'webhooks', ['unit_id'])
    op.create_index('ix_webhook_deliveries_webhook_id_last_attempt_at', 'webhook_deliveries',
                    ['webhook_id', 'last_attempt_at'])
    if op.get_bind().dialect.name == 'postgresql':
        op.create_unique_constraint(*UNIQUE)
        op.execute(f'ALTER TABLE webhooks ADD CONSTRAINT {FK[0]} FOREIGN KEY (unit_id) REFERENCES units (id) '
                   'NOT VALID')
        op.execute(f'ALTER TABLE webhooks VALIDATE CONSTRAINT {FK[0]}')
        return
    # SQLite adds a constraint by rebuilding the table; with foreign keys on, dropping the old one would
    # cascade into the tables that reference it (webhook_deliveries).
    with _sqlite_foreign_keys_off():
        with op.batch_alter_table('notifications') as batch_op:
            batch_op.create_unique_constraint(UNIQUE[0], UNIQUE[2])
        with op.batch_alter_table('webhooks') as batch_op:
            batch_op.create_foreign_key(FK[0], FK[2], FK[3], FK[4])


def downgrade():
    with _sqlite_foreign_keys_off():
        with op.batch_alter_table('webhooks') as batch_op:
            batch_op.drop_constraint(FK[0], type_='foreignkey')
        with op.batch_alter_table('notifications') as batch_op:
            batch_op.drop_constraint(UNIQUE[0], type_='unique')
    op.drop_index('ix_webhook_deliveries_webhook_id_last_attempt_at', table_name='webhook_deliveries')
    op.drop_index('ix_webhooks_unit_id', table_name='webhooks')
    for table, column in reversed(COLUMNS):
        op.execute(f'ALTER TABLE {table} DROP COLUMN {column.name}')  # SQLite 3.35+ and PostgreSQL
