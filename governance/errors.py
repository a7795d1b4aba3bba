"""Domain errors and the one place that turns them into HTTP responses.

Services raise `DomainError` subclasses; they never build HTTP responses. Messages must never contain personal
data: they are shown to callers and may be logged.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import Any, ClassVar

from flask import Flask, Response, g, jsonify, render_template, request
from jinja2 import TemplateNotFound
from werkzeug.exceptions import HTTPException

from governance.db import current_session

log = logging.getLogger("governance.errors")


class DomainError(Exception):
    """Base of every error a service raises on purpose. `code` is stable and documented; `status` the HTTP status."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    default_message: ClassVar[str] = "The request cannot be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.fields = dict(fields or {})
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})
        if code is not None:
            self.code = code  # type: ignore[misc]
        if status is not None:
            self.status = status  # type: ignore[misc]
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        body.update(self.extra)
        return body


class InvalidRequestError(DomainError):
    status, code, default_message = 400, "bad_request", "The request is malformed."


class AuthenticationRequiredError(DomainError):
    status, code, default_message = 401, "unauthenticated", "Authentication is required."


class ForbiddenError(DomainError):
    status, code, default_message = 403, "forbidden", "You are not allowed to do this."


class NotFoundError(DomainError):
    status, code, default_message = 404, "not_found", "No such resource."


class ConflictError(DomainError):
    status, code, default_message = 409, "conflict", "The request conflicts with the current state."


class GoneError(DomainError):
    status, code, default_message = 410, "gone", "This resource is no longer available."


class ValidationFailedError(DomainError):
    status, code, default_message = 422, "validation_failed", "Some fields are invalid."


class RateLimitedError(DomainError):
    status, code, default_message = 429, "rate_limited", "Too many requests; retry later."


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
}


# The machine interface: bearer tokens count there, errors are always JSON. Besides the JSON API and OAuth2,
# the standard endpoints other systems call at fixed paths: `/.well-known/*` (GPC, DRP, AuthZEN metadata) and
# OpenID AuthZEN's `/access/v1/*`, the Data Rights Protocol's `/drp/v1/*` (docs/standards.md).
MACHINE_PREFIXES = ("/api/", "/oauth/", "/access/v1/", "/drp/", "/.well-known/")


def is_machine_path(path: str) -> bool:
    return path.startswith(MACHINE_PREFIXES)


def wants_json() -> bool:
    """API callers get JSON; browsers get a page."""
    if is_machine_path(request.path):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json"


def error_response(status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    body.setdefault("request_id", g.get("request_id"))
    if wants_json():
        response = jsonify(body)
    else:
        try:
            html = render_template("errors/error.html", status=status, error=body)
        except TemplateNotFound:
            html = f"<!doctype html><title>Error {status}</title><h1>Error {status}</h1><p>{body['message']}</p>"
        response = Response(html, mimetype="text/html")
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_frames(exc: BaseException, limit: int = 12) -> list[str]:
    """Where an error happened (file, line, function) without its message, which may carry values."""
    return [f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}:{f.name}" for f in traceback.extract_tb(exc.__traceback__)][
        -limit:
    ]


def _rollback() -> None:
    session = current_session()
    if session is not None:
        session.rollback()


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        _rollback()
        return error_response(exc.status, exc.body(), exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        if exc.response is not None and exc.code and exc.response.mimetype == "application/json":
            return exc.response  # type: ignore[return-value]  # a JSON error body (the validation callback's)
        status = exc.code or 500
        code = "csrf_failed" if type(exc).__name__ == "CSRFError" else _HTTP_CODES.get(status, "http_error")
        message = exc.description if status != 413 else "The request body is too large."
        headers = {k: v for k, v in exc.get_headers() if k.lower() not in {"content-type", "content-length"}}
        return error_response(status, {"error": code, "message": message}, headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        _rollback()
        # Only the type and the request id: exception text may contain values.
        log.error("unhandled error", extra={"error_type": type(exc).__name__, "stack": error_frames(exc)})
        body = {"error": "internal_error", "message": "An unexpected error occurred; quote the request id."}
        return error_response(500, body)
