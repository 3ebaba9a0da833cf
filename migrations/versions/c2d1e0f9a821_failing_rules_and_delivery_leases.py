"""failing escalation rules and delivery leases

Revision ID: c2d1e0f9a821
Revises: 7c3e9a1f5b20
Create Date: 2026-12-03 12:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

# revision identifiers, used by Alembic.
revision = 'c2d1e0f9a821'
down_revision = '7c3e9a1f5b20'
branch_labels = None
depends_on = None

# A rule the sweep could not run is set aside with its error (docs/decisions/0020); a delivery being sent is
# leased to one scheduler until lease_until (docs/decisions/0029). Nullable columns: no table rewrite.


def upgrade():
    with op.batch_alter_table("escalation_rules") as batch:
        batch.add_column(sa.Column("failing_since", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("lease_until", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("lease_token", sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("lease_token")
        batch.drop_column("lease_until")
    with op.batch_alter_table("escalation_rules") as batch:
        batch.drop_column("last_error")
        batch.drop_column("failing_since")
