"""the calendar's version counter (bumped by triggers) and the statutory calendar seeded on upgrade

Revision ID: 3a7c0e5d9b13
Revises: a7d0c15e0f70
Create Date: 2026-12-03 12:50:00

calendar_version holds one row whose version every INSERT, UPDATE or DELETE on calendar_days or work_periods
bumps (triggers, so a write from any process or tool is seen by every cached calendar). The upgrade also seeds
the statutory holidays and make-up workdays of the current and the next year and the default working periods,
so a production install never runs without a calendar (the `keep_calendar` job keeps later years coming).
"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa
from sqlalchemy.orm import Session


revision = '3a7c0e5d9b13'
down_revision = 'a7d0c15e0f70'
branch_labels = None
depends_on = None

TABLES = ('calendar_days', 'work_periods')
PG_FUNCTION = """
CREATE FUNCTION bump_calendar_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE calendar_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END
$$
"""


def upgrade():
    op.create_table(
        'calendar_version',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_calendar_version_single_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_version')),
    )
    op.execute('INSERT INTO calendar_version (id, version) VALUES (1, 0)')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_FUNCTION)
        for table in TABLES:
            op.execute(f'CREATE TRIGGER {table}_bump_calendar_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE '
                       f'ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_calendar_version()')
    else:
        for table in TABLES:
            for operation in ('INSERT', 'UPDATE', 'DELETE'):
                op.execute(f'CREATE TRIGGER {table}_bump_calendar_version_{operation.lower()} AFTER {operation} '
                           f'ON {table} BEGIN UPDATE calendar_version SET version = version + 1 WHERE id = 1; END')
    _seed_statutory_calendar()


def _seed_statutory_calendar():
    """The current and next year's statutory days (real clock: a migration runs now) and default periods."""
    from workflow.calendar import seed_calendar

    now = datetime.now(UTC)
    session = Session(bind=op.get_bind())
    seed_calendar(session, years=[now.year, now.year + 1], now=now)
    session.flush()


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in TABLES:
            op.execute(f'DROP TRIGGER IF EXISTS {table}_bump_calendar_version ON {table}')
        op.execute('DROP FUNCTION IF EXISTS bump_calendar_version()')
    else:
        for table in TABLES:
            for operation in ('insert', 'update', 'delete'):
                op.execute(f'DROP TRIGGER IF EXISTS {table}_bump_calendar_version_{operation}')
    op.drop_table('calendar_version')
