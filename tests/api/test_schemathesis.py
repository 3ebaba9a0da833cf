"""Property-based: schemathesis sends what /openapi.json allows (and what it does not), as an admin.

No input may make a 500, and every response must match the schema documented for it.
Bounded: a few dozen examples per operation, on SQLite only (the contract is the same on PostgreSQL).
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="run once, on the embedded default")
EXAMPLES = 100


def test_no_request_makes_a_server_error_or_breaks_its_schema(app, world):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    headers = world.auth("admin")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

        check()
