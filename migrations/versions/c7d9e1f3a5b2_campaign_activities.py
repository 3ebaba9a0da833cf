"""campaign activities: activity days of a campaign or a star, and their photos

Revision ID: c7d9e1f3a5b2
Revises: b4e6f8a0c2d1
Create Date: 2026-12-03 13:00:00.000000

Photos are the uploads of /inspection-photos, claimed by an activity (inspection_photos.activity_id). SQLite adds
that column in place with its REFERENCES clause; dropping it rebuilds the table with the foreign-key check off.
"""
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = 'c7d9e1f3a5b2'
down_revision = 'b4e6f8a0c2d1'
branch_labels = None
depends_on = None

FK_NAME = 'fk_inspection_photos_activity_id_campaign_activities'


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
        raise RuntimeError(f"foreign keys broken by the inspection_photos rebuild: {broken[:5]}")
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys=ON")
    bind.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade():
    op.create_table('campaign_activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('starts_at', models.base.UTCDateTime(), nullable=False),
    sa.Column('ends_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('point_id', sa.Integer(), nullable=True),
    sa.Column('place', sa.String(length=200), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('participants', sa.Integer(), nullable=False),
    sa.Column('volunteers', sa.Integer(), nullable=True),
    sa.Column('reached', sa.Integer(), nullable=True),
    sa.Column('materials', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('client_id', sa.String(length=100), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_campaign_activities_created_by_id_users')),
    sa.ForeignKeyConstraint(['list_id'], ['problem_lists.id'], name=op.f('fk_campaign_activities_list_id_problem_lists')),
    sa.ForeignKeyConstraint(['point_id'], ['points.id'], name=op.f('fk_campaign_activities_point_id_points')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_campaign_activities_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_activities')),
    sa.UniqueConstraint('created_by_id', 'client_id', name=op.f('uq_campaign_activities_created_by_id_client_id'))
    )
    op.create_index('ix_campaign_activities_list_id_starts_at', 'campaign_activities', ['list_id', 'starts_at'])
    op.create_index('ix_campaign_activities_unit_id_starts_at', 'campaign_activities', ['unit_id', 'starts_at'])
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f'ALTER TABLE inspection_photos ADD COLUMN activity_id INTEGER CONSTRAINT {FK_NAME} '
                   'REFERENCES campaign_activities (id)')
    else:
        op.add_column('inspection_photos', sa.Column('activity_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f(FK_NAME), 'inspection_photos', 'campaign_activities', ['activity_id'], ['id'])
    op.create_index(op.f('ix_inspection_photos_activity_id'), 'inspection_photos', ['activity_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_inspection_photos_activity_id'), table_name='inspection_photos')
    with _sqlite_foreign_keys_off(), op.batch_alter_table('inspection_photos') as batch_op:
        if op.get_bind().dialect.name == 'postgresql':  # SQLite's rebuild drops it with the column
            batch_op.drop_constraint(op.f(FK_NAME), type_='foreignkey')
        batch_op.drop_column('activity_id')
    op.drop_index('ix_campaign_activities_unit_id_starts_at', table_name='campaign_activities')
    op.drop_index('ix_campaign_activities_list_id_starts_at', table_name='campaign_activities')
    op.drop_table('campaign_activities')
