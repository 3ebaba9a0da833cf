"""api tokens

Revision ID: c8d2f4a6b1e3
Revises: b8a1e7c0d9f1
Create Date: 2026-11-26 18:30:00.000000

Each user's single users.token_hash becomes a row of api_tokens (one token per device, with expiry,
revocation and last use). Existing tokens keep working: they move over with no expiry.
"""
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = 'c8d2f4a6b1e3'
down_revision = 'b8a1e7c0d9f1'
branch_labels = None
depends_on = None


@contextmanager
def _sqlite_foreign_keys_off():
    """SQLite rebuilds `users` to change its columns; with foreign keys on, dropping the old table would
    cascade into (or be refused by) every table that references users. The pragma only takes effect
    outside a transaction, so end it, rebuild with the check off, verify, and begin again."""
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
        raise RuntimeError(f"foreign keys broken by the users rebuild: {broken[:5]}")
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=ON")
    bind.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade():
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_api_tokens_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.execute("INSERT INTO api_tokens (user_id, token_hash, label, created_at) "
               "SELECT id, token_hash, 'initial', created_at FROM users")
    with _sqlite_foreign_keys_off():
        with op.batch_alter_table('users', schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f('uq_users_token_hash'), type_='unique')
            batch_op.drop_column('token_hash')


def downgrade():
    with _sqlite_foreign_keys_off():
        with op.batch_alter_table('users', schema=None) as batch_op:
            batch_op.add_column(sa.Column('token_hash', sa.String(length=64), nullable=True))
    # Each user keeps their newest live token; one without any gets an unusable hash (no token matches it).
    op.execute("""
        UPDATE users SET token_hash = (
            SELECT t.token_hash FROM api_tokens t
            WHERE t.user_id = users.id AND t.revoked_at IS NULL
            ORDER BY t.id DESC LIMIT 1)
    """)
    op.execute("UPDATE users SET token_hash = 'revoked:' || CAST(id AS VARCHAR(20)) WHERE token_hash IS NULL")
    with _sqlite_foreign_keys_off():
        with op.batch_alter_table('users', schema=None) as batch_op:
            batch_op.alter_column('token_hash', existing_type=sa.String(length=64), nullable=False)
            batch_op.create_unique_constraint(batch_op.f('uq_users_token_hash'), ['token_hash'])
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
