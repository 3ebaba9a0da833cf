"""rounds by officer: a GIN index on patrol_rounds.officer_ids (PostgreSQL)

Revision ID: f1a2b3c4d5e6
Revises: e3b1c7d9f2a4
Create Date: 2026-11-26 20:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f1a2b3c4d5e6'
down_revision = 'e3b1c7d9f2a4'
branch_labels = None
depends_on = None

# An officer's rounds (/me/rounds, what an officer may see) are found with officer_ids::jsonb @> '[id]'. An
# expression index, so PostgreSQL only: SQLite, the embedded database, scans its few rounds.


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_patrol_rounds_officer_ids ON patrol_rounds USING gin ((officer_ids::jsonb))")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_patrol_rounds_officer_ids")
