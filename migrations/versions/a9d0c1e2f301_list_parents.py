"""problem lists gain a parent: a drive (e.g. 五星支部创建) holds one child list per star

Revision ID: a9d0c1e2f301
Revises: c2d1e0f9a821
Create Date: 2026-12-03 12:45:00.000000

SQLite adds the column in place (ALTER TABLE ADD COLUMN with its REFERENCES clause), so problem_lists is not
rebuilt under the tables that reference it; PostgreSQL adds the column and a named foreign key.
"""
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a9d0c1e2f301'
down_revision = 'c2d1e0f9a821'
branch_labels = None
depends_on = None


FK_NAME = 'fk_problem_lists_parent_id_problem_lists'


@contextmanager
def _sqlite_foreign_keys_off():
    """Dropping the column rebuilds problem_lists on SQLite; with foreign keys on, dropping the old table would be
    refused by the tables that reference it (as in 7c3e9a1f5b20): rebuild with the check off, then verify."""
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
        raise RuntimeError(f"foreign keys broken by the problem_lists rebuild: {broken[:5]}")
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=ON")
    bind.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f'ALTER TABLE problem_lists ADD COLUMN parent_id INTEGER CONSTRAINT {FK_NAME} '
                   'REFERENCES problem_lists (id)')
    else:
        op.add_column('problem_lists', sa.Column('parent_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f(FK_NAME), 'problem_lists', 'problem_lists', ['parent_id'], ['id'])
    op.create_index(op.f('ix_problem_lists_parent_id'), 'problem_lists', ['parent_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_problem_lists_parent_id'), table_name='problem_lists')
    with _sqlite_foreign_keys_off(), op.batch_alter_table('problem_lists') as batch_op:
        if op.get_bind().dialect.name == 'postgresql':  # SQLite's rebuild drops it with the column
            batch_op.drop_constraint(op.f(FK_NAME), type_='foreignkey')
        batch_op.drop_column('parent_id')
