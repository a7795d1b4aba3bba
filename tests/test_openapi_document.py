"""The OpenAPI document describes every operation completely: who may call it, what it answers on success and
every error status it can give, all as JSON schemas (finding 11 of issue 18).

The fuzz test (tests/test_fuzz_api.py) checks that the service keeps to what is written here; this file checks
that what is written is complete, and matches the routes the app really serves.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from governance.access.decorators import declaration_for_endpoint
from governance.openapi import METHODS, openapi_path

ERROR_REF = "#/components/schemas/ErrorBody"


@pytest.fixture(scope="module")
def document(base_app: Flask) -> dict[str, Any]:
    response = base_app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _public_operations(app: Flask) -> set[tuple[str, str]]:
    public = set()
    for rule in app.url_map.iter_rules():
        declaration = declaration_for_endpoint(app, rule.endpoint)
        if declaration is not None and declaration.public_reason is not None:
            public |= {(openapi_path(rule.rule), m.lower()) for m in rule.methods or ()}
    return public


def _schema_of(document: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    content = response.get("content") or {}
    assert content, "no content"
    _media, body = next(iter(content.items()))
    schema = body.get("schema") or {}
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def test_every_api_route_is_documented(base_app: Flask, document: dict[str, Any]) -> None:
    documented = {(path, method) for path, method, _ in _operations(document)}
    served = {
        (openapi_path(rule.rule), method.lower())
        for rule in base_app.url_map.iter_rules()
        if rule.rule.startswith(("/api/v1/", "/oauth/", "/.well-known/", "/access/v1/", "/drp/"))
        for method in rule.methods or ()
        if method.lower() in METHODS
    }
    assert served - documented == set()


def test_security_schemes_are_declared(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    flows = schemes["oauth2"]["flows"]["clientCredentials"]
    assert flows["tokenUrl"] == "/oauth/token"
    assert "subjects:write" in flows["scopes"]
    assert schemes["session"] == {**schemes["session"], "type": "apiKey", "in": "cookie"}


def test_every_protected_operation_declares_its_security(base_app: Flask, document: dict[str, Any]) -> None:
    public = _public_operations(base_app)
    scopes = set(document["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["scopes"])
    missing, unknown = [], []
    for path, method, operation in _operations(document):
        security = operation.get("security")
        if security is None:
            missing.append(f"{method.upper()} {path}")
            continue
        if (path, method) in public or path.startswith("/oauth/"):
            continue
        if not security:
            missing.append(f"{method.upper()} {path} (empty security on a protected route)")
        for requirement in security:
            for scheme, needed in requirement.items():
                assert scheme in document["components"]["securitySchemes"], scheme
                unknown += [s for s in needed if scheme == "oauth2" and s not in scopes]
    assert missing == [], missing
    assert unknown == []


def test_scopes_come_from_the_policy(document: dict[str, Any]) -> None:
    """Spot checks against docs/access.md: the requirement lists exactly the scopes the Cedar rules accept."""
    subjects = document["paths"]["/api/v1/subjects"]["post"]["security"]
    assert subjects == [{"oauth2": ["subjects:write"]}]
    jobs = document["paths"]["/api/v1/jobs/{job_id}"]["get"]["security"]
    assert {"oauth2": ["requests:write"]} in jobs
    assert {"oauth2": ["training:submit"]} in jobs
    assert {"session": []} in jobs
    staff_only = document["paths"]["/api/v1/access/staff"]["get"]["security"]
    assert staff_only == [{"session": []}]


def test_every_operation_documents_success_and_errors(base_app: Flask, document: dict[str, Any]) -> None:
    public = _public_operations(base_app)
    problems: list[str] = []
    for path, method, operation in _operations(document):
        name = f"{method.upper()} {path}"
        responses = operation.get("responses", {})
        successes = [s for s in responses if s.startswith("2")]
        if not successes:
            problems.append(f"{name}: no 2xx response")
        for status in successes:
            try:
                _schema_of(document, responses[status])
            except AssertionError:
                problems.append(f"{name}: {status} has no schema")
        expected = {"429"}
        if path.startswith("/api/"):
            expected |= {"400", "422"}
            if (path, method) not in public:
                expected |= {"401", "403", "404"}
            if method in ("post", "put", "patch"):
                expected |= {"413", "415"}
        elif path.startswith("/oauth/"):
            expected |= {"400", "401"}
        else:
            expected = set()  # the probes answer 200 or 503 only
        missing = expected - set(responses)
        if missing:
            problems.append(f"{name}: undocumented {sorted(missing)}")
        for status, response in responses.items():
            if status.startswith(("4", "5")) and not path.startswith(("/oauth/", "/readyz")):
                schema = _schema_of(document, response)
                shape = {"code", "message"} if path.startswith("/drp/") else {"error", "message"}  # DRP 3.06
                if not shape <= set(schema.get("required", [])):
                    problems.append(f"{name}: {status} is not the error schema")
    assert problems == [], "\n".join(problems)


def test_domain_statuses_are_documented(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert "409" in paths["/api/v1/subjects/{subject_id}/consents"]["post"]["responses"]  # idempotency conflict
    assert "410" in paths["/api/v1/requests/downloads/{token}"]["get"]["responses"]  # expired link
    assert "410" in paths["/api/v1/subjects/{subject_id}/profile"]["get"]["responses"]  # erased subject


def test_idempotency_key_header_is_declared(document: dict[str, Any]) -> None:
    parameters = document["paths"]["/api/v1/subjects/{subject_id}/consents"]["post"]["parameters"]
    header = next(p for p in parameters if p["in"] == "header")
    assert header["name"] == "Idempotency-Key"
    assert header["required"] is True


def test_consent_import_rejection_is_the_error_schema(client: FlaskClient, bearer) -> None:  # type: ignore[no-untyped-def]
    headers = bearer({"consents:write"})
    body = {"format": "jsonl", "source": "other-platform", "content": "{not json\n"}
    response = client.post("/api/v1/consents/imports", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json["error"] == "import_rejected"
    assert response.json["message"]
    assert response.json["import"]["status"] == "rejected"
