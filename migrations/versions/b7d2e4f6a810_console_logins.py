"""Console sign-in: users gain a unique login and an argon2 password hash (temporary when an admin set it).

Revision ID: b7d2e4f6a810
Revises: 7c3e9a1f5b20
"""

from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = 'b7d2e4f6a810'
down_revision = '7c3e9a1f5b20'
branch_labels = None
OPEN = "state NOT IN ('closed', 'cancelled')"
depends_on = None


@contextmanager
def _sqlite_foreign_keys_off():
    """SQLite rebuilds `users` for the unique login; with foreign keys on, dropping the old table would cascade
    into api_tokens (ON DELETE CASCADE) and be refused by the tables that reference users. The pragma only takes
    effect outside a transaction: end it, rebuild with the check off, verify, begin again (as 7c3e9a1f5b20)."""
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
    with _sqlite_foreign_keys_off(), op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("login", sa.String(64), nullable=True))
        batch.add_column(sa.Column("password_hash", sa.String(200), nullable=True))
        batch.add_column(sa.Column("password_temporary", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("password_set_at", UTCDateTime(timezone=True), nullable=True))
        batch.create_unique_constraint("uq_users_login", ["login"])
    # The dashboard counts open problems by state and light from this index alone (bench/console_bench.py).
    # Built concurrently on PostgreSQL, outside the migration's transaction: writers to problems go on.
    columns = ["state", "stage_due_at", "stage_warn_at", "grid_unit_id", "unit_id"]
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index("ix_problems_open_desk", "problems", columns, postgresql_where=sa.text(OPEN),
                            postgresql_concurrently=True, if_not_exists=True)
    else:
        op.create_index("ix_problems_open_desk", "problems", columns, sqlite_where=sa.text(OPEN))


def downgrade():
    op.drop_index("ix_problems_open_desk", table_name="problems")
    with _sqlite_foreign_keys_off(), op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_login", type_="unique")
        batch.drop_column("password_set_at")
        batch.drop_column("password_temporary")
        batch.drop_column("password_hash")
        batch.drop_column("login")
