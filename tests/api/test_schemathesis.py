"""Property-based fuzzing of the OpenAPI schema (schemathesis, in-process ASGI): no 5xx, and
every response conforms to its documented model. Bounded: a few examples per operation."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.app import create_app
from store.sqlite import SQLiteStore
from tests.api.api_seed import ADMIN_TOKEN, VIEWER_TOKEN, FixedClock, generate_twin, make_settings

HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
EXAMPLES = 15


@pytest.fixture(scope="module")
def api_schema(
    tmp_path_factory: pytest.TempPathFactory, sqlite_store: SQLiteStore
) -> Iterator[schemathesis.BaseSchema]:
    d = tmp_path_factory.mktemp("fuzz")  # its own twin and binding file: rebinding may be fuzzed
    generate_twin(d)
    sha = hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()
    (d / "tokens.yaml").write_text(
        f"tokens:\n  - {{name: v, role: viewer, token: {VIEWER_TOKEN}}}\n  - {{name: a, role: admin, sha256: {sha}}}\n",
        encoding="utf-8",
    )
    app = create_app(make_settings(d), store=sqlite_store, clock=FixedClock())
    with TestClient(app):  # runs the lifespan
        yield schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


def test_openapi_is_complete_for_a_generated_client(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    ops = [op for path in doc["paths"].values() for op in path.values()]
    assert len(ops) >= 18
    for op in ops:
        assert op.get("operationId"), op
        if op["operationId"] == "signOut":
            assert "204" in op["responses"]
            continue
        assert "application/json" in op["responses"]["200"]["content"], op["operationId"]
        if op["operationId"] not in ("getHealth", "signIn"):  # signIn takes the token in its body
            assert op.get("security") == [{"bearerToken": []}], op["operationId"]
            assert "ErrorOut" in str(op["responses"]["401"]), op["operationId"]


def test_no_server_errors(api_schema: schemathesis.BaseSchema) -> None:
    """Every operation, a bounded number of generated requests each (as admin, so all run)."""
    checked = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=HEADERS)
            assert response.status_code < 500, (
                case.method,
                case.formatted_path,
                case.query,
                response.text[:300],
            )
            case.validate_response(response, checks=[response_schema_conformance], headers=HEADERS)

        run()
        checked += 1
    assert checked >= 18
