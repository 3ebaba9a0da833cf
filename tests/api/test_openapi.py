"""The published document: valid, with stable ids, every refusal and header, typed and required outputs."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from api.openapi import OPERATION_IDS, WRITE_METHODS
from tests.contract import Contract, ContractViolation

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document(app):
    return app.test_client().get("/openapi.json").get_json()


def operations(document):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(document, node):
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = document["components"][kind][name]
    return node


def test_the_document_is_valid_openapi(document):
    validate(document)
    assert document["openapi"].startswith("3.")
    assert document["servers"] and document["info"]["license"]["name"]


def test_every_route_has_its_stable_operation_id_a_summary_and_tags(document):
    found = {(method, path): operation.get("operationId") for path, method, operation in operations(document)}
    assert found == OPERATION_IDS
    assert len(set(OPERATION_IDS.values())) == len(OPERATION_IDS)
    for path, method, operation in operations(document):
        assert operation.get("summary") and operation.get("tags"), (method, path)


def test_every_api_route_of_the_app_is_in_the_document(app, document):
    routed = {(method.lower(), rule.rule) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
              for method in rule.methods if method.lower() in METHODS}
    documented = {(method, path) for path, method, _ in operations(document)}
    assert len(routed) == len([p for p in documented if p[1].startswith("/api/")])


def test_every_error_is_problem_json_with_a_precise_schema(document):
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400 and path.startswith("/api/"):
                content = resolve(document, response)["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
    schemas = document["components"]["schemas"]
    assert schemas["Problem"]["additionalProperties"] is True
    conflict = schemas["ConflictProblem"]["allOf"][1]["properties"]
    assert {"state", "state_label", "allowed_actions"} <= set(conflict)
    assert "version" in schemas["StaleVersionProblem"]["allOf"][1]["properties"]
    assert schemas["ValidationProblem"]["allOf"][1]["required"] == ["errors"]


def parameter_names(document, operation):
    return {resolve(document, p)["name"]: resolve(document, p) for p in operation.get("parameters", [])}


def test_headers_are_declared_where_taken_and_sent(document):
    for path, method, operation in operations(document):
        names = parameter_names(document, operation)
        assert "Accept-Language" in names, (method, path)
        if method in WRITE_METHODS and path.startswith("/api/"):
            assert "Idempotency-Key" in names, (method, path)
        answers_428 = "428" in operation["responses"]
        assert ("If-Match" in names) == answers_428, (method, path)
        if answers_428:
            assert names["If-Match"]["required"] is True
        for status in ("429", "503"):
            if status in operation["responses"] and path.startswith("/api/"):
                assert "Retry-After" in resolve(document, operation["responses"][status])["headers"]
    act = document["paths"]["/api/v1/problems/{problem_id}/actions"]["post"]["responses"]["200"]["headers"]
    assert {"ETag", "Idempotent-Replayed"} <= set(act)
    report = document["paths"]["/api/v1/problems"]["post"]["responses"]["201"]["headers"]
    assert {"ETag", "Location"} <= set(report)


def untyped(schema, where):
    for name, prop in (schema.get("properties") or {}).items():
        if not {"type", "$ref", "allOf", "oneOf", "anyOf"} & set(prop):
            yield f"{where}.{name}"
        yield from untyped(prop, f"{where}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from untyped(schema["items"], f"{where}[]")


def test_every_property_is_typed(document):
    assert [p for name, schema in document["components"]["schemas"].items() for p in untyped(schema, name)] == []


def test_outputs_mark_what_is_always_there_and_close_their_vocabularies(document):
    schemas = document["components"]["schemas"]
    problem = schemas["ProblemOut"]
    assert set(problem["required"]) == set(problem["properties"])
    assert problem["properties"]["state"]["enum"][0] == "reported"
    for name in ("severity", "light", "stage"):
        assert "enum" in problem["properties"][name], name
    assert "enum" in problem["properties"]["allowed_actions"]["items"]


def test_the_photo_upload_sends_file_kind_note_and_client_id_in_one_multipart_body(document):
    operation = document["paths"]["/api/v1/problems/{problem_id}/attachments"]["post"]
    assert all(p.get("in") != "formData" for p in operation["parameters"])
    schema = resolve(document, operation["requestBody"]["content"]["multipart/form-data"]["schema"])
    assert set(schema["properties"]) == {"file", "kind", "note", "client_id"}
    assert set(schema["required"]) == {"file", "kind"}


def test_the_contract_check_refuses_a_response_the_document_does_not_allow(app, client, world):
    response = client.get("/api/v1/me", headers=world.auth("officer"))
    assert response.status_code == 200
    response.set_data(json.dumps({"id": "one"}))
    with pytest.raises(ContractViolation, match="/api/v1/me"):
        Contract.of(app).check(response)


def test_the_contract_check_refuses_an_undocumented_status(app, client, world):
    response = client.get("/api/v1/me", headers=world.auth("officer"))
    response.status_code = 418
    with pytest.raises(ContractViolation):
        Contract.of(app).check(response)


REDOCLY = os.environ.get("REDOCLY") or shutil.which("redocly")


@pytest.mark.skipif(not REDOCLY, reason="redocly is not installed (make lint-openapi installs it from npm)")
def test_redocly_lint_finds_no_error(document, tmp_path):
    served = tmp_path / "openapi.json"
    served.write_text(json.dumps(document))
    result = subprocess.run([REDOCLY, "lint", str(served), "--config", str(ROOT / "redocly.yaml"),
                             "--format", "summary"], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_deprecated_operation_says_so_in_the_document_and_in_every_answer(monkeypatch, tmp_path):
    from datetime import UTC, datetime

    from api import openapi
    from app import create_app
    from config.settings import Testing

    since, sunset = datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 7, 1, tzinfo=UTC)
    monkeypatch.setitem(openapi.DEPRECATIONS, "getLiveness", openapi.Deprecation(since, sunset, "use /healthz"))
    config = type("DeprecatingConfig", (Testing,), {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'd.db'}",
                                                    "ATTACHMENT_DIR": str(tmp_path / "attachments")})
    client = create_app(config).test_client()
    operation = client.get("/openapi.json").get_json()["paths"]["/livez"]["get"]
    assert operation["deprecated"] is True and "use /healthz" in operation["description"]
    assert set(operation["responses"]["200"]["headers"]) == {"Deprecation", "Sunset"}
    response = client.get("/livez")
    assert response.headers["Deprecation"] == f"@{int(since.timestamp())}"
    assert response.headers["Sunset"] == "Thu, 01 Jul 2027 00:00:00 GMT"
    assert "Deprecation" not in client.get("/healthz").headers
