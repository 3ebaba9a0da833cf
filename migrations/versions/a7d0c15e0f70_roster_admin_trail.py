"""the roster: versions and retirement of reference rows, natural keys for imports, the admin trail

Revision ID: a7d0c15e0f70
Revises: c7d9e1f3a5b2
Create Date: 2026-12-03 12:55:00

Units, users, grids, points, categories, escalation rules and webhooks get a `version` (If-Match on their
edits); units, grids, points and patrol plans get `active` (retired rows stay, for history); units, grids,
points and users get the natural keys a roster import matches on (unit_code, code, phone, employee_no); users
remember when they were retired. The admin trail (admin_trail, its counter row, and admin_events) is
append-only on PostgreSQL, like problem_events. No statement here touches problems or problem_events.
"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = 'a7d0c15e0f70'
down_revision = 'c7d9e1f3a5b2'
branch_labels = None
depends_on = None

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION admin_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'admin_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'events are chained by hashes; flask audit verify checks them';
END
$$
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER admin_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON admin_events
    FOR EACH STATEMENT EXECUTE FUNCTION admin_events_append_only()
"""

VERSIONED = ('units', 'users', 'grids', 'points', 'categories', 'escalation_rules', 'webhooks')
RETIRABLE = ('units', 'grids', 'points', 'patrol_plans')
KEYS = (('units', 'unit_code'), ('grids', 'code'), ('points', 'code'), ('users', 'phone'),
        ('users', 'employee_no'))


def upgrade():
    for table in VERSIONED:
        op.add_column(table, sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
    for table in RETIRABLE:
        op.add_column(table, sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()))
    for table, column in KEYS:
        op.add_column(table, sa.Column(column, sa.String(length=32), nullable=True))
        op.create_index(f'ix_{table}_{column}', table, [column], unique=True)
    op.add_column('users', sa.Column('retired_at', models.base.UTCDateTime(), nullable=True))

    op.create_table(
        'admin_trail',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('last_seq', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_trail')),
    )
    op.create_table(
        'admin_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('trail_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('resource', sa.String(length=24), nullable=False),
        sa.Column('resource_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=24), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor_name', sa.String(length=100), nullable=True),
        sa.Column('actor_role', sa.String(length=20), nullable=True),
        sa.Column('fields', sa.JSON(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('at', models.base.UTCDateTime(), nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_admin_events_actor_id_users')),
        sa.ForeignKeyConstraint(['trail_id'], ['admin_trail.id'], name=op.f('fk_admin_events_trail_id_admin_trail')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_events')),
        sa.UniqueConstraint('trail_id', 'seq', name=op.f('uq_admin_events_trail_id_seq')),
    )
    op.execute("INSERT INTO admin_trail (id, last_seq) VALUES (1, 0)")
    op.create_index('ix_admin_events_resource_resource_id_seq', 'admin_events', ['resource', 'resource_id', 'seq'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(APPEND_ONLY_TRIGGER)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS admin_events_append_only ON admin_events')
        op.execute('DROP FUNCTION IF EXISTS admin_events_append_only()')
    op.drop_index('ix_admin_events_resource_resource_id_seq', table_name='admin_events')
    op.drop_table('admin_events')
    op.drop_table('admin_trail')
    # Plain DROP COLUMN (SQLite 3.35+ has it): a batch rebuild of `units` or `users` would trip over the
    # foreign keys that point at them.
    op.drop_column('users', 'retired_at')
    for table, column in KEYS:
        op.drop_index(f'ix_{table}_{column}', table_name=table)
        op.drop_column(table, column)
    for table in RETIRABLE:
        op.drop_column(table, 'active')
    for table in VERSIONED:
        op.drop_column(table, 'version')
