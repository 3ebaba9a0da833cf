"""work reaches its person: inbox dedupe keys, group-chat webhook formats and scopes, delivery leases,
quiet hours per unit, users' phones

Revision ID: e16a0c1d2b3f
Revises: 7c3e9a1f5b20
Create Date: 2026-12-03 12:50:00.000000

Inbox items gain `dedupe_key` (unique per user: one row per person per cause); webhooks gain `format`
(rectify | wecom | dingtalk | feishu) and `unit_id` (a subtree's events only); deliveries gain the lease a
sender holds while it sends outside any transaction, and the time of their last attempt (vendors' rate
limits); units gain quiet hours; users gain a phone for the robots' @-mentions.
"""
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa

import models.base


@contextmanager
def _sqlite_foreign_keys_off():
    """SQLite rebuilds `webhooks` to add its unit foreign key; with foreign keys on, dropping the old table
    would cascade into webhook_deliveries. The pragma only takes effect outside a transaction (as
    7c3e9a1f5b20 does)."""
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


# revision identifiers, used by Alembic.
revision = 'e16a0c1d2b3f'
down_revision = '7c3e9a1f5b20'
branch_labels = None
depends_on = None


def upgrade():
    # SQLite rebuilds these tables; with foreign keys on, dropping the old ones would break references.
    with _sqlite_foreign_keys_off():
        with op.batch_alter_table('notifications', schema=None) as batch_op:
            batch_op.add_column(sa.Column('dedupe_key', sa.String(length=120), nullable=True))
            batch_op.create_unique_constraint(batch_op.f('uq_notifications_user_id_dedupe_key'), ['user_id', 'dedupe_key'])
        with op.batch_alter_table('webhooks', schema=None) as batch_op:
            batch_op.add_column(sa.Column('format', sa.String(length=10), server_default='rectify', nullable=False))
            batch_op.add_column(sa.Column('unit_id', sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f('ix_webhooks_unit_id'), ['unit_id'], unique=False)
            batch_op.create_foreign_key(batch_op.f('fk_webhooks_unit_id_units'), 'units', ['unit_id'], ['id'])
        with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
            batch_op.add_column(sa.Column('lease_until', models.base.UTCDateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column('lease_token', sa.String(length=32), nullable=True))
            batch_op.add_column(sa.Column('last_attempt_at', models.base.UTCDateTime(timezone=True), nullable=True))
            batch_op.create_index('ix_webhook_deliveries_webhook_id_last_attempt_at', ['webhook_id', 'last_attempt_at'],
                                  unique=False)
        with op.batch_alter_table('units', schema=None) as batch_op:
            batch_op.add_column(sa.Column('quiet_start', sa.String(length=5), server_default='22:00', nullable=False))
            batch_op.add_column(sa.Column('quiet_end', sa.String(length=5), server_default='07:00', nullable=False))
        with op.batch_alter_table('users', schema=None) as batch_op:
            batch_op.add_column(sa.Column('phone', sa.String(length=20), nullable=True))


def downgrade():
    # SQLite rebuilds these tables; with foreign keys on, dropping the old ones would break references.
    with _sqlite_foreign_keys_off():
        with op.batch_alter_table('users', schema=None) as batch_op:
            batch_op.drop_column('phone')
        with op.batch_alter_table('units', schema=None) as batch_op:
            batch_op.drop_column('quiet_end')
            batch_op.drop_column('quiet_start')
        with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
            batch_op.drop_index('ix_webhook_deliveries_webhook_id_last_attempt_at')
            batch_op.drop_column('last_attempt_at')
            batch_op.drop_column('lease_token')
            batch_op.drop_column('lease_until')
        with op.batch_alter_table('webhooks', schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f('fk_webhooks_unit_id_units'), type_='foreignkey')
            batch_op.drop_index(batch_op.f('ix_webhooks_unit_id'))
            batch_op.drop_column('unit_id')
            batch_op.drop_column('format')
        with op.batch_alter_table('notifications', schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f('uq_notifications_user_id_dedupe_key'), type_='unique')
            batch_op.drop_column('dedupe_key')
