"""stage spans: the stages problems left, by the problem's report time, kept by a trigger on problem_events

Revision ID: d3f5a7b9c124
Revises: c5d8e2a7b913
Create Date: 2026-12-03 19:10:00

Decision 0123. The statistics' stage times of a period joined every stage-ending event of the period's
problems to them (~340,000 events for a month at a million problems). `stage_spans` holds one row per
stage-ending event (`stage_natural_s` set) with the problem's `reported_at`, indexed by it, so a period's
stages are one index range. An AFTER INSERT trigger on problem_events writes the row in the same statement as
the event: every writer keeps it without knowing it. No foreign key: events are append-only (a tamper test
that deletes one leaves its span, which no figure of a chain check reads).

Online on PostgreSQL: the table, its index and the trigger are created and committed first (the trigger takes
a brief lock on problem_events and reads no row), then the spans of the events already there are filled by
one statement outside that transaction; ON CONFLICT skips those the trigger wrote meanwhile.
"""
from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = 'd3f5a7b9c124'
down_revision = 'c5d8e2a7b913'
branch_labels = None
depends_on = None

COLUMNS = "event_id, problem_id, reported_at, stage, natural_s, working_s"
SPAN_OF_NEW = ("SELECT NEW.id, NEW.problem_id, p.reported_at, NEW.stage, NEW.stage_natural_s, NEW.stage_working_s "
               "FROM problems AS p WHERE p.id = NEW.problem_id")
PG_FUNCTION = f"""
CREATE FUNCTION keep_stage_span() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stage_spans ({COLUMNS}) {SPAN_OF_NEW};
    RETURN NULL;
END
$$
"""
PG_TRIGGER = ("CREATE TRIGGER problem_events_stage_span AFTER INSERT ON problem_events FOR EACH ROW "
              "WHEN (NEW.stage_natural_s IS NOT NULL) EXECUTE FUNCTION keep_stage_span()")
SQLITE_TRIGGER = (f"CREATE TRIGGER problem_events_stage_span AFTER INSERT ON problem_events "
                  f"WHEN NEW.stage_natural_s IS NOT NULL BEGIN INSERT INTO stage_spans ({COLUMNS}) {SPAN_OF_NEW}; END")
FILL = f"""
INSERT INTO stage_spans ({COLUMNS})
SELECT e.id, e.problem_id, p.reported_at, e.stage, e.stage_natural_s, e.stage_working_s
FROM problem_events AS e JOIN problems AS p ON p.id = e.problem_id
WHERE e.stage_natural_s IS NOT NULL
ON CONFLICT (event_id) DO NOTHING
"""


def upgrade():
    op.create_table(
        'stage_spans',
        sa.Column('event_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('problem_id', sa.Integer(), nullable=False),
        sa.Column('reported_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('stage', sa.String(length=10), nullable=True),
        sa.Column('natural_s', sa.Integer(), nullable=False),
        sa.Column('working_s', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('event_id', name=op.f('pk_stage_spans')),
    )
    op.create_index('ix_stage_spans_reported_at', 'stage_spans', ['reported_at', 'problem_id'],
                    postgresql_include=['stage', 'natural_s', 'working_s'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
        with op.get_context().autocommit_block():
            op.execute(FILL)
            op.execute("ANALYZE stage_spans")
    else:
        op.execute(SQLITE_TRIGGER)
        op.execute(FILL)


def downgrade():
    op.execute("DROP TRIGGER IF EXISTS problem_events_stage_span" + (
        " ON problem_events" if op.get_bind().dialect.name == 'postgresql' else ""))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP FUNCTION IF EXISTS keep_stage_span()")
    op.drop_index('ix_stage_spans_reported_at', table_name='stage_spans')
    op.drop_table('stage_spans')
