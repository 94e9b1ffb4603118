"""The published OpenAPI spec, fuzzed with schemathesis as an admin: no request, valid or
not, makes the server fail (5xx), and every response matches the schema it declares."""

from __future__ import annotations

import pytest
import schemathesis
from conftest import bearer, sample_records
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from trustshield.service.app import create_app
from trustshield.service.settings import ServiceSettings

EXAMPLES_PER_OPERATION = 30
#: (method, path) of every operation, read from the spec the app publishes
OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in create_app(ServiceSettings(store="unused", models_dir="unused"))
    .openapi()["paths"]
    .items()
    for method in item
)


@pytest.fixture(scope="module")
def fuzzed(build_service, tmp_path_factory):
    rig = build_service(tmp_path_factory.mktemp("fuzz"))
    with rig.client() as client:
        rig.activate(client)
        rig.score(client, sample_records(rig.signed.frame))
        schema = schemathesis.openapi.from_asgi("/openapi.json", rig.app)
        yield schema, bearer(rig.tokens["admin"])


@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_server_error_and_responses_match_the_schema(fuzzed, method, path):
    schema, admin = fuzzed
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case):
        case.call_and_validate(
            headers=admin, checks=[not_a_server_error, response_schema_conformance]
        )

    fuzz()
