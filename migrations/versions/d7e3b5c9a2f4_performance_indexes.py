"""performance indexes

Revision ID: d7e3b5c9a2f4
Revises: c8d2f4a6b1e3
Create Date: 2026-11-26 18:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = 'd7e3b5c9a2f4'
down_revision = 'c8d2f4a6b1e3'
branch_labels = None
depends_on = None


INDEXES = {
    "ix_problems_grid_id_reported_at_id": ["grid_id", "reported_at", "id"],
    "ix_problems_unit_id_reported_at_id": ["unit_id", "reported_at", "id"],
    "ix_problems_next_check_at_id": ["next_check_at", "id"],
    "ix_problems_point_id_state_closed_at": ["point_id", "state", "closed_at"],
    "ix_problems_point_id_category_id_reported_at": ["point_id", "category_id", "reported_at"],
}


def upgrade():
    with op.batch_alter_table('problems', schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade():
    with op.batch_alter_table('problems', schema=None) as batch_op:
        for name in reversed(list(INDEXES)):
            batch_op.drop_index(name)
