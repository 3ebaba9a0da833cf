"""problem event hash chain

Revision ID: b8a1e7c0d9f1
Revises: a5e1d2c3b4a5
Create Date: 2026-11-26 18:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import models.base


# revision identifiers, used by Alembic.
revision = 'b8a1e7c0d9f1'
down_revision = 'a5e1d2c3b4a5'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
