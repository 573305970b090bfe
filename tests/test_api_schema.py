"""A bounded schemathesis run against the live OpenAPI spec: no input the spec allows gives a 5xx.

Driven through schemathesis's strategies directly (its pytest plugin does not support pytest 9).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

pytestmark = pytest.mark.integration  # a real server, browser, cluster or killed process: `make test` runs it, a bare `pytest` not

EXAMPLES_PER_OPERATION = 12


@pytest.fixture(scope="module")
def api_schema(shared_server):  # loopback only; writes need a token schemathesis does not have
    return schemathesis.openapi.from_url(f"{shared_server.url}/openapi.json")


def test_no_server_errors(api_schema):
    tried = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_5xx(case):
            response = case.call(timeout=60)
            tried.append(operation.label)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"

        no_5xx()
    assert len(set(tried)) >= 9 and len(tried) >= 50
