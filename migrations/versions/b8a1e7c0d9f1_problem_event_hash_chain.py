"""problem event hash chain

Revision ID: b8a1e7c0d9f1
Revises: a5e1d2c3b4a5
Create Date: 2026-11-26 18:30:00.000000

Every problem event gets `prev_hash` and `hash` (workflow/audit.py says what is hashed); the events that
exist are chained in seq order here. On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE on
problem_events. The hashing is frozen below as it was written, so that later changes to the code cannot
change what this migration writes.
"""
import hashlib
import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b8a1e7c0d9f1'
down_revision = 'a5e1d2c3b4a5'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
NOT_HASHED = {"id", "prev_hash", "hash"}
BATCH = 2000

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION problem_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'problem_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'events are chained by hashes; flask audit verify checks them';
END
$$
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER problem_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON problem_events
    FOR EACH STATEMENT EXECUTE FUNCTION problem_events_append_only()
"""


def upgrade():
    with op.batch_alter_table('problem_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    _backfill(op.get_bind())
    with op.batch_alter_table('problem_events', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(APPEND_ONLY_TRIGGER)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS problem_events_append_only ON problem_events')
        op.execute('DROP FUNCTION IF EXISTS problem_events_append_only()')
    with op.batch_alter_table('problem_events', schema=None) as batch_op:
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')


def _value(value):
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def _hash(prev_hash, row, columns):
    document = {name: _value(row[name]) for name in columns if row[name] is not None}
    content = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(prev_hash.encode("ascii") + content).hexdigest()


def _backfill(bind):
    """Chain the existing events of each problem in seq order, in keyset batches."""
    events = sa.Table('problem_events', sa.MetaData(), autoload_with=bind)
    columns = [c.name for c in events.columns if c.name not in NOT_HASHED]
    update = (events.update().where(events.c.id == sa.bindparam('event_id'))
              .values(prev_hash=sa.bindparam('new_prev'), hash=sa.bindparam('new_hash')))
    after, heads = (0, 0), {}
    while True:
        stmt = (sa.select(events).where(sa.tuple_(events.c.problem_id, events.c.seq) > after)
                .order_by(events.c.problem_id, events.c.seq).limit(BATCH))
        rows = bind.execute(stmt).mappings().all()
        if not rows:
            return
        params = []
        for row in rows:
            prev = heads.pop(row['problem_id'], GENESIS) if row['seq'] > 1 else GENESIS
            new_hash = _hash(prev, row, columns)
            params.append({'event_id': row['id'], 'new_prev': prev, 'new_hash': new_hash})
            heads = {row['problem_id']: new_hash}  # only the current problem can continue in the next batch
        bind.execute(update, params)
        after = (rows[-1]['problem_id'], rows[-1]['seq'])
