"""failing escalation rules and delivery leases

Revision ID: c2d1e0f9a821
Revises: b7d2e4f6a810
Create Date: 2026-12-03 12:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

# revision identifiers, used by Alembic.
revision = 'c2d1e0f9a821'
down_revision = 'b7d2e4f6a810'
branch_labels = None
depends_on = None

# A rule the sweep could not run is set aside with its error (docs/decisions/0020); a delivery being sent is
# leased to one scheduler until lease_until (docs/decisions/0029). Nullable columns: no table rewrite.


COLUMNS = [("escalation_rules", sa.Column("failing_since", UTCDateTime(), nullable=True)),
           ("escalation_rules", sa.Column("last_error", sa.Text(), nullable=True)),
           ("webhook_deliveries", sa.Column("lease_until", UTCDateTime(), nullable=True)),
           ("webhook_deliveries", sa.Column("lease_token", sa.String(length=32), nullable=True))]


def upgrade():
    # Plain ADD COLUMN on both databases: SQLite needs no table rebuild (which other tables' foreign keys
    # would refuse) for a nullable column.
    for table, column in COLUMNS:
        op.add_column(table, column)


def downgrade():
    for table, column in reversed(COLUMNS):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column.name}")  # SQLite 3.35+ and PostgreSQL
