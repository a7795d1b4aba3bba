"""The OpenAPI document: flask-openapi3's output from the pydantic models, completed in this one place.

flask-openapi3 knows each operation's parameters, body and success model. What it cannot know is added here,
from the same sources the service enforces, so the document cannot drift from behaviour:
- `security` of every operation from the route's `@requires(action)` and the Cedar policies: the scopes whose
  client may perform the action, and the cookie session when staff or a data subject may; public routes
  declare `security: []`.
- the error responses every operation can give (the shared `ErrorBody`), from what the request pipeline does:
  401/403/404 for protected routes, 400 for malformed input, 413/415 for writes, 422 for invalid parameters or
  bodies, 429 for rate limits (with Retry-After); domain statuses
  (409, 410...) are declared on the route itself (`responses={409: ErrorBody}`).
- the X-RateLimit headers on success answers and on 429, declared optional: an answer carries them when a limit
  counted it (none for an exempt route or where no limit is configured, nor while the limiter's storage is
  unreachable).
- the `Idempotency-Key` header of routes marked with `idempotent_write`.
- `/oauth/*` (Authlib, form-encoded) and the probes, which are not flask-openapi3 routes.
"""

from __future__ import annotations

import copy
import re
import uuid
from typing import Any

from flask import Flask

from governance.access.decorators import declaration_for_endpoint
from governance.access.policy import PolicyRequestError
from governance.access.service import get_engine
from governance.access.tokens import KNOWN_SCOPES
from governance.api import IDEMPOTENCY_ATTR, ErrorBody
from governance.core.principals import Principal, Resource

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
OAUTH_ERROR_REF = {"$ref": "#/components/schemas/OAuthError"}
DRP_ERROR_REF = {"$ref": "#/components/schemas/DrpError"}
DRP_PREFIX = "/drp/"  # the Data Rights Protocol answers errors in its own shape (docs/standards.md)
METHODS = ("get", "post", "put", "patch", "delete")
WRITE_METHODS = ("post", "put", "patch")
STAFF_ROLES = ("admin", "dpo", "support", "auditor")
# Resource types an owned item may have: a subject session reaches only resources it owns.
OWNED_TYPES = ("Subject", "Request", "Job", "Dataset", "TrainingJob", "Token")

SCOPE_DESCRIPTIONS = {
    "subjects:write": "create data subjects, update profiles, read subject metadata",
    "subjects:link": "mint one-time dashboard links",
    "events:write": "send behaviour events",
    "consents:write": "record consent decisions and imports",
    "consents:read": "read consent state, check purposes, verify receipts",
    "requests:write": "file and follow data subject requests",
    "datasets:request": "datasets, DP statistics and budgets for registered purposes",
    "training:submit": "DP training jobs for registered purposes",
    "authzen:evaluate": "OpenID AuthZEN access decisions and consent checks (policy enforcement points)",
    "drp:agent": "Data Rights Protocol: a CCPA authorized agent files, follows and revokes its requests",
}

SECURITY_SCHEMES: dict[str, Any] = {
    "oauth2": {
        "type": "oauth2",
        "description": "OAuth2 client credentials; send the token as `Authorization: Bearer <token>`.",
        "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": SCOPE_DESCRIPTIONS}},
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "governance_session",
        "description": "A staff sign-in (/login) or a data subject's dashboard link; writes send `X-CSRFToken`.",
    },
    "client_basic": {
        "type": "http",
        "scheme": "basic",
        "description": "OAuth2 client authentication (client id and secret); the form fields work too.",
    },
}

_HEADERS_401 = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer challenge (RFC 6750)"}}
# access.ratelimit: on every answer a limit counted; absent where none applies (an exempt route, no limit
# configured) and while the limiter's storage is unreachable (then nothing counts)
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": {
        "schema": {"type": "integer"},
        "description": "calls allowed in the smallest window (when a limit counted this call)",
    },
    "X-RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "calls left in that window"},
    "X-RateLimit-Reset": {"schema": {"type": "integer"}, "description": "epoch seconds when a call is free again"},
}
_HEADERS_429 = {
    "Retry-After": {"schema": {"type": "string"}, "description": "whole seconds to wait, rounded up"},
    **RATE_LIMIT_HEADERS,  # of the breached window
}


def _error(description: str, headers: dict[str, Any] | None = None, ref: dict[str, str] = ERROR_REF) -> dict:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": ref}}}
    if headers:
        response["headers"] = headers
    return response


COMMON_ERRORS: dict[str, dict[str, Any]] = {
    "400": _error(
        "invalid_character in the URL, query or body; malformed_json or duplicate_key; csrf_failed for a "
        "cookie-authenticated write"
    ),
    "401": _error("not authenticated (no, expired or revoked credentials)", _HEADERS_401),
    "403": _error("authenticated but not allowed"),
    "404": _error("no such resource, or one the caller may not see"),
    "410": _error("the data subject was erased"),
    "413": _error("body larger than GOVERNANCE_MAX_BODY_BYTES"),
    "415": _error("body not application/json"),
    "422": _error("invalid or unknown parameters or fields"),
    "429": _error("rate limited", _HEADERS_429),
}


def openapi_path(rule: str) -> str:
    """`/a/<int:b>/<c>` -> `/a/{b}/{c}` (flask-openapi3's spelling)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _endpoints(app: Flask) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        for method in rule.methods or ():
            found[(openapi_path(rule.rule), method.lower())] = rule.endpoint
    return found


def _permitted(engine: Any, principal: Any, action: str, resources: list[Any]) -> bool:
    for resource in resources:
        try:
            if engine.is_allowed(principal, action, resource):
                return True
        except PolicyRequestError:
            continue
    return False


def security_for(engine: Any, action: str) -> list[dict[str, list[str]]]:
    """Who may call a route declaring `action`, asked of the policy engine itself (never a second table)."""
    subject_id = uuid.UUID(int=7)
    owned = [
        Resource(type=t, id="x", owner_subject_id=subject_id, owner_client_id="doc-client", purpose="doc")
        for t in OWNED_TYPES
    ]
    resources = [Resource.system(), *owned]
    requirements: list[dict[str, list[str]]] = []
    for scope in sorted(KNOWN_SCOPES):
        client = Principal(kind="client", id="doc-client", scopes=frozenset({scope}), purposes=frozenset({"doc"}))
        if _permitted(engine, client, action, resources):
            requirements.append({"oauth2": [scope]})
    staff = [Principal(kind="staff", id="doc", roles=frozenset({role}), mfa=True) for role in STAFF_ROLES]
    subject = Principal(kind="subject", id="doc", subject_id=subject_id)
    if any(_permitted(engine, p, action, resources) for p in [*staff, subject]):
        requirements.append({"session": []})
    return requirements


def _error_statuses(path: str, method: str, operation: dict[str, Any], protected: bool) -> list[str]:
    statuses = ["400", "422", "429"]  # 400: a control character in the URL or query (any operation)
    if protected:
        statuses += ["401", "403", "404"]
    elif "{" in path:
        statuses.append("404")
    if "{subject_id}" in path:
        statuses.append("410")  # the vault answers 410 for an erased subject
    if method in WRITE_METHODS:
        statuses += ["413", "415"]
    return statuses


def _complete_operation(path: str, method: str, operation: dict[str, Any], view: Any, declaration: Any) -> None:
    protected = declaration is None or declaration.public_reason is None
    if declaration is not None and declaration.action:
        operation["x-governance-action"] = declaration.action
    responses = operation.setdefault("responses", {})
    if "ValidationErrorModel" in str(responses.get("422")):
        del responses["422"]  # flask-openapi3's default: our validation callback answers with ErrorBody
    for status in _error_statuses(path, method, operation, protected):
        responses.setdefault(status, copy.deepcopy(COMMON_ERRORS[status]))
    for status, response in responses.items():
        if status.startswith("2"):
            response.setdefault("headers", {}).update(copy.deepcopy(RATE_LIMIT_HEADERS))
    if path.startswith(DRP_PREFIX):
        for status, response in responses.items():
            if status.startswith("4"):
                response["content"] = {"application/json": {"schema": dict(DRP_ERROR_REF)}}
    if _has_attr(view, IDEMPOTENCY_ATTR):
        operation.setdefault("parameters", []).append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "description": "Unique per write (at most 128 characters): a replay with the same body returns "
                "the first response, another body is 409. Bearer clients must send it; a dashboard session "
                "may omit it.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[\x21-\x7e]+$"},
            }
        )


def _has_attr(view: Any, name: str) -> bool:
    for _ in range(10):
        if view is None:
            return False
        if getattr(view, name, False):
            return True
        view = getattr(view, "__wrapped__", None)
    return False


def build_document(app: Flask) -> dict[str, Any]:
    """The complete OpenAPI document of `app` (computed once and cached by the caller)."""
    doc = copy.deepcopy(app.api_doc)  # type: ignore[attr-defined]
    components = doc.setdefault("components", {})
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    schemas = components.setdefault("schemas", {})
    schemas["ErrorBody"] = ErrorBody.model_json_schema()
    schemas["OAuthError"] = OAUTH_ERROR_SCHEMA
    schemas["DrpError"] = DRP_ERROR_SCHEMA
    endpoints = _endpoints(app)
    with app.app_context():
        engine = get_engine()
        for path, item in doc.get("paths", {}).items():
            for method, operation in item.items():
                if method not in METHODS:
                    continue
                endpoint = endpoints.get((path, method))
                declaration = declaration_for_endpoint(app, endpoint) if endpoint else None
                view = app.view_functions.get(endpoint) if endpoint else None
                if declaration is not None and declaration.public_reason is not None:
                    operation["security"] = []
                elif declaration is not None and declaration.action:
                    operation["security"] = security_for(engine, declaration.action)
                _complete_operation(path, method, operation, view, declaration)
    schemas.pop("ValidationErrorModel", None)
    doc["paths"].update(copy.deepcopy(EXTRA_PATHS))
    return doc


OAUTH_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "OAuthError",
    "description": "RFC 6749 section 5.2 error",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}

DRP_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "DrpError",
    "description": "Data Rights Protocol 0.9.4 section 3.06 error",
    "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "fatal": {"type": "boolean"}},
}

_CLIENT_AUTH: list[dict[str, list[str]]] = [{"client_basic": []}, {}]
_FORM = "application/x-www-form-urlencoded"


def _oauth_operation(summary: str, body: dict[str, Any], ok: dict[str, Any]) -> dict[str, Any]:
    return {
        "tags": ["oauth"],
        "summary": summary,
        "security": _CLIENT_AUTH,
        "requestBody": {"required": True, "content": {_FORM: {"schema": body}}},
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": ok}}},
            "400": _error("invalid_request, invalid_scope, unsupported_grant_type...", ref=OAUTH_ERROR_REF),
            "401": _error("invalid_client: unknown client or wrong secret", ref=OAUTH_ERROR_REF),
            "429": _error("rate limited", _HEADERS_429),
        },
    }


_CLIENT_FIELDS = {
    "client_id": {"type": "string", "maxLength": 200},
    "client_secret": {"type": "string", "maxLength": 500},
}
_TOKEN_FIELD = {"token": {"type": "string", "maxLength": 500}, "token_type_hint": {"type": "string"}}

EXTRA_PATHS: dict[str, Any] = {
    "/oauth/token": {
        "post": _oauth_operation(
            "Client credentials grant (RFC 6749 section 4.4)",
            {
                "type": "object",
                "required": ["grant_type"],
                "properties": {
                    "grant_type": {"type": "string", "enum": ["client_credentials"]},
                    "scope": {"type": "string", "description": "space-separated; default: all the client's"},
                    **_CLIENT_FIELDS,
                },
            },
            {
                "type": "object",
                "required": ["access_token", "token_type", "expires_in", "scope"],
                "properties": {
                    "access_token": {"type": "string"},
                    "token_type": {"type": "string"},
                    "expires_in": {"type": "integer"},
                    "scope": {"type": "string"},
                },
            },
        )
    },
    "/oauth/introspect": {
        "post": _oauth_operation(
            "Token introspection (RFC 7662): a client sees only its own tokens",
            {"type": "object", "required": ["token"], "properties": {**_TOKEN_FIELD, **_CLIENT_FIELDS}},
            {
                "type": "object",
                "required": ["active"],
                "properties": {
                    "active": {"type": "boolean"},
                    "client_id": {"type": "string"},
                    "scope": {"type": "string"},
                    "token_type": {"type": "string"},
                    "exp": {"type": "integer"},
                    "iat": {"type": "integer"},
                },
            },
        )
    },
    "/oauth/revoke": {
        "post": _oauth_operation(
            "Token revocation (RFC 7009): a client revokes only its own tokens",
            {"type": "object", "required": ["token"], "properties": {**_TOKEN_FIELD, **_CLIENT_FIELDS}},
            {"type": "object"},
        )
    },
    "/healthz": {
        "get": {
            "tags": ["health"],
            "summary": "Liveness",
            "security": [],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "object", "required": ["status"]}}},
                }
            },
        }
    },
    "/readyz": {
        "get": {
            "tags": ["health"],
            "summary": "Readiness: each check with ok and a detail (never data)",
            "security": [],
            "responses": {
                status: {
                    "description": description,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["status", "checks"],
                                "properties": {
                                    "status": {"type": "string", "enum": ["ready", "not_ready"]},
                                    "checks": {"type": "object"},
                                },
                            }
                        }
                    },
                }
                for status, description in (("200", "ready"), ("503", "not ready"))
            },
        }
    },
}
