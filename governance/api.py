"""API conventions shared by every domain's JSON endpoints.

- Blueprints come from `api_blueprint(name)`: mounted under `/api/v1`, documented in the OpenAPI 3.1 document at
  `/api/openapi.json` (flask-openapi3 generates it from the same pydantic models that validate requests).
- Request bodies subclass `StrictModel` (unknown fields are rejected).
- Every error body is `{"error": code, "message": text, "fields": {...}}` (`ErrorBody`).
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Flask, Response, jsonify, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, ValidationError

from governance.errors import InvalidRequestError

API_PREFIX = "/api/v1"
JSON_METHODS = {"POST", "PUT", "PATCH"}


_SCHEMA_CACHE: dict[type[BaseModel], dict[str, Any]] = {}


class StrictModel(BaseModel):
    """Base for request bodies and query models: unknown fields are errors, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """flask-openapi3 regenerates a query model's JSON schema on every request (to find its list fields),
        about a third of a small route's CPU; the default-arguments schema is computed once per class."""
        if args or kwargs:
            return super().model_json_schema(*args, **kwargs)
        cached = _SCHEMA_CACHE.get(cls)
        if cached is None:
            cached = _SCHEMA_CACHE[cls] = super().model_json_schema()
        return copy.deepcopy(cached)


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorBody(BaseModel):
    error: str
    message: str
    fields: dict[str, str] | None = None
    request_id: str | None = None


ERROR_RESPONSES: dict[Any, Any] = {
    400: ErrorBody,
    401: ErrorBody,
    403: ErrorBody,
    404: ErrorBody,
    422: ErrorBody,
}


def api_blueprint(name: str, *, tag: str | None = None, description: str = "") -> APIBlueprint:
    """A blueprint mounted under /api/v1 whose routes all appear in the OpenAPI document under one tag."""
    tags = [Tag(name=tag or name, description=description)]
    return APIBlueprint(f"{name}_api", __name__, url_prefix=API_PREFIX, abp_tags=tags, abp_responses=ERROR_RESPONSES)


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "body"


def validation_error_response(exc: ValidationError) -> Response:
    """flask-openapi3 calls this for request validation errors: 422 with one message per field, no input echoed."""
    fields: dict[str, str] = {}
    unknown = False
    for error in exc.errors(include_input=False, include_url=False):
        path = _field_path(tuple(error["loc"]))
        if error["type"] == "extra_forbidden":
            unknown = True
            fields[path] = "unknown field"
        else:
            fields.setdefault(path, error["msg"])
    body = {
        "error": "unknown_field" if unknown and len(fields) == 1 else "validation_failed",
        "message": "The request has invalid or unknown fields.",
        "fields": fields,
    }
    response = jsonify(body)
    response.status_code = 422
    return response


def guard_json_body() -> None:
    """before_request: API writes must carry well-formed JSON (or nothing); bad bodies never reach a view."""
    if request.method not in JSON_METHODS or not request.path.startswith(API_PREFIX):
        return
    if not request.content_length and not request.headers.get("Transfer-Encoding"):
        return
    if not request.is_json:
        raise InvalidRequestError("Send the body as application/json.", code="unsupported_media_type", status=415)
    try:
        request.get_json(force=False, silent=False, cache=True)
    except Exception:  # werkzeug raises BadRequest (or 413 when too large, re-raised below)
        from werkzeug.exceptions import RequestEntityTooLarge

        if (
            request.content_length
            and request.max_content_length
            and (request.content_length > request.max_content_length)
        ):
            raise RequestEntityTooLarge() from None
        raise InvalidRequestError("The body is not valid JSON.", code="malformed_json") from None


def init_app(app: Flask) -> None:
    app.before_request(guard_json_body)
