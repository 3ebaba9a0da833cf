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


def upgrade():
    pass


def downgrade():
    pass
