"""The Alembic migrations are the schema: after `upgrade`, they must equal the models exactly."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from models import db


# SQLite cannot reflect expression indexes (the PostgreSQL-only GIN index on rounds' officers): Alembic says
# so and compares the rest; PostgreSQL compares it too.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_migrations_create_exactly_what_the_models_declare(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []
