"""non-spatial categories: categories.spatial, and a problem of such a category has no grid

Revision ID: b4e6f8a0c2d1
Revises: a9d0c1e2f301
Create Date: 2026-12-03 12:50:00.000000

A shortfall such as 制度未上墙 belongs to a unit, not to a place: `problems.grid_id` becomes nullable (its
`grid_unit_id` is then the unit named at the report). SQLite rebuilds `problems` for that, with the foreign-key
check off around the rebuild as 7c3e9a1f5b20 does. The downgrade refuses while a problem without a grid exists:
there is no grid to give it back.
"""
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b4e6f8a0c2d1'
down_revision = 'a9d0c1e2f301'
branch_labels = None
depends_on = None


@contextmanager
def _sqlite_foreign_keys_off():
    """With foreign keys on, dropping the old `problems` would be refused by every table that references it."""
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
        raise RuntimeError(f"foreign keys broken by the problems rebuild: {broken[:5]}")
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=ON")
    bind.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade():
    op.add_column('categories', sa.Column('spatial', sa.Boolean(), server_default=sa.true(), nullable=False))
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('problems', 'grid_id', existing_type=sa.Integer(), nullable=True)
        return
    with _sqlite_foreign_keys_off(), op.batch_alter_table('problems') as batch_op:
        batch_op.alter_column('grid_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    placeless = op.get_bind().execute(sa.text('SELECT count(*) FROM problems WHERE grid_id IS NULL')).scalar()
    if placeless:
        raise RuntimeError(f"{placeless} problems have no grid (non-spatial categories): cannot downgrade")
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('problems', 'grid_id', existing_type=sa.Integer(), nullable=False)
        op.drop_column('categories', 'spatial')
        return
    with _sqlite_foreign_keys_off():
        with op.batch_alter_table('problems') as batch_op:
            batch_op.alter_column('grid_id', existing_type=sa.Integer(), nullable=False)
        with op.batch_alter_table('categories') as batch_op:
            batch_op.drop_column('spatial')
