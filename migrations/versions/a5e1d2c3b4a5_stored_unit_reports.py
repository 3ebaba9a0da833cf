"""stored unit reports

Revision ID: a5e1d2c3b4a5
Revises: 3cb2576423f3
Create Date: 2026-11-26 18:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = 'a5e1d2c3b4a5'
down_revision = '3cb2576423f3'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
