"""api tokens

Revision ID: c8d2f4a6b1e3
Revises: b8a1e7c0d9f1
Create Date: 2026-11-26 18:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = 'c8d2f4a6b1e3'
down_revision = 'b8a1e7c0d9f1'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
