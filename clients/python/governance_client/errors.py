"""One exception hierarchy for everything the client raises.

Every error from the service carries its stable `code` (the body's `error`), the HTTP `status`, the service's
fixed `message`, the `request_id` to quote to the operators, and `fields` (which input was wrong, by name or
position: the service never repeats what was sent). Nothing here holds personal data: no URL (paths carry
subject ids), no request body, no token; `str(error)` is safe to log.

    GovernanceError
    ├── TransportError                 the service could not be reached (connection refused, timeout)
    ├── ChecksumMismatchError          a downloaded release does not match its SHA-256
    ├── WaitTimeoutError               a release, request or job did not finish in time
    ├── JobFailedError                 a release or job ended failed (its error code)
    └── ApiError                       the service answered with an error status
        ├── BadRequestError            400
        ├── AuthenticationError        401 (and TokenError: the token endpoint refused the credentials)
        ├── PermissionDeniedError      403 (NotAllowedError: a dataset spec item refused)
        ├── NotFoundError              404 (SubjectNotFoundError, AlreadyErasedError, ...)
        ├── ConflictError              409 (BudgetExhaustedError, IdempotencyKeyReusedError, ...)
        ├── GoneError                  410 (LinkExpiredError)
        ├── PayloadTooLargeError       413
        ├── UnsupportedMediaTypeError  415
        ├── ValidationError            422 (UnknownPurposeError, ...)
        ├── RateLimitedError           429, after the retries (`retry_after` in seconds)
        ├── ServiceUnavailableError    503, after the retries
        └── ServerError                other 5xx
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

__all__ = [
    "AlreadyErasedError",
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExhaustedError",
    "ChecksumMismatchError",
    "ConflictError",
    "GoneError",
    "GovernanceError",
    "IdempotencyKeyReusedError",
    "JobFailedError",
    "LinkExpiredError",
    "NotAllowedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ServerError",
    "ServiceUnavailableError",
    "SubjectNotFoundError",
    "TokenError",
    "TransportError",
    "UnknownPurposeError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "WaitTimeoutError",
    "error_from_response",
    "parse_retry_after",
]


class GovernanceError(Exception):
    """Base of every exception of this library."""


class TransportError(GovernanceError):
    """The service could not be reached or did not answer in time (after the retries)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind  # the httpx exception's class name: ConnectError, ReadTimeout, ...
        super().__init__(f"the service could not be reached ({kind})")


class ChecksumMismatchError(GovernanceError):
    def __init__(self) -> None:
        super().__init__("the downloaded release does not match its SHA-256 checksum")


class WaitTimeoutError(GovernanceError):
    def __init__(self, what: str, seconds: float, last_status: str | None) -> None:
        self.what, self.seconds, self.last_status = what, seconds, last_status
        super().__init__(f"{what} not finished after {seconds:g} s (last status {last_status})")


class JobFailedError(GovernanceError):
    def __init__(self, what: str, status: str, error_code: str | None) -> None:
        self.what, self.status, self.error_code = what, status, error_code
        super().__init__(f"{what} ended {status} ({error_code or 'no error code'})")


class ApiError(GovernanceError):
    """The service answered with an error. `code` is the stable `error` of its body."""

    status: ClassVar[int | None] = None  # the class's status; the instance's is `status_code`
    codes: ClassVar[frozenset[str]] = frozenset()  # service codes that map to exactly this class

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        request_id: str | None = None,
        fields: Mapping[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        self.request_id = request_id
        self.fields = dict(fields or {})
        self.details = dict(details or {})  # other keys of the body, e.g. not_allowed, valid_purposes
        self.retry_after = retry_after
        suffix = f" (request {request_id})" if request_id else ""
        super().__init__(f"{status_code} {code}: {message}{suffix}")


class BadRequestError(ApiError):
    status = 400


class AuthenticationError(ApiError):
    status = 401


class TokenError(AuthenticationError):
    """The token endpoint refused: `invalid_client` (wrong id or secret), `invalid_scope`, ..."""

    codes = frozenset({"invalid_client", "invalid_scope", "unauthorized_client", "invalid_grant"})


class PermissionDeniedError(ApiError):
    status = 403


class NotAllowedError(PermissionDeniedError):
    """A dataset spec was refused; `not_allowed` lists every refused item with its reason."""

    codes = frozenset({"not_allowed"})

    @property
    def not_allowed(self) -> list[dict[str, Any]]:
        return list(self.details.get("not_allowed", []))


class NotFoundError(ApiError):
    status = 404


class SubjectNotFoundError(NotFoundError):
    codes = frozenset({"subject_not_found"})


class AlreadyErasedError(NotFoundError):
    codes = frozenset({"already_erased", "subject_erased"})


class ConflictError(ApiError):
    status = 409


class BudgetExhaustedError(ConflictError):
    codes = frozenset({"budget_exhausted"})


class IdempotencyKeyReusedError(ConflictError):
    codes = frozenset({"idempotency_key_reused"})


class GoneError(ApiError):
    status = 410


class LinkExpiredError(GoneError):
    codes = frozenset({"link_expired"})


class PayloadTooLargeError(ApiError):
    status = 413


class UnsupportedMediaTypeError(ApiError):
    status = 415


class ValidationError(ApiError):
    status = 422


class UnknownPurposeError(ValidationError):
    codes = frozenset({"unknown_purpose"})

    @property
    def valid_purposes(self) -> list[str]:
        return list(self.details.get("valid_purposes", []))


class RateLimitedError(ApiError):
    status = 429


class ServiceUnavailableError(ApiError):
    status = 503


class ServerError(ApiError):
    status = 500


def _subclasses(cls: type[ApiError]) -> list[type[ApiError]]:
    out: list[type[ApiError]] = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


_BY_CODE = {code: cls for cls in _subclasses(ApiError) for code in cls.codes}
_BY_STATUS = {cls.status: cls for cls in _subclasses(ApiError) if cls.status is not None and not cls.codes}


def error_class(status_code: int, code: str) -> type[ApiError]:
    """The most specific class: by the service's code (codes are unique across the service), else by status."""
    by_code = _BY_CODE.get(code)
    if by_code is not None:
        return by_code
    if status_code in _BY_STATUS:
        return _BY_STATUS[status_code]
    return ServerError if status_code >= 500 else ApiError


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date (RFC 9110); None if absent or
    unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    import time

    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


# body keys that are the error's own (everything else is a detail such as not_allowed or valid_purposes)
_OWN_KEYS = frozenset({"error", "message", "fields", "request_id", "error_description"})


def error_from_response(status_code: int, content: bytes, headers: Mapping[str, str]) -> ApiError:
    """The typed error for an error answer. Only the service's own JSON fields are kept: a body that is not
    the service's JSON (a proxy's HTML page) becomes `http_<status>` with a fixed message, never its text."""
    try:
        body = json.loads(content) if content else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = body.get("error") if isinstance(body.get("error"), str) else f"http_{status_code}"
    message = body.get("message") or body.get("error_description") or "The service refused the request."
    fields = body.get("fields") if isinstance(body.get("fields"), dict) else None
    request_id = body.get("request_id") or headers.get("x-request-id")
    details = {k: v for k, v in body.items() if k not in _OWN_KEYS}
    cls = error_class(status_code, code)
    return cls(
        status_code,
        code,
        str(message),
        request_id=str(request_id) if request_id else None,
        fields=fields,
        details=details,
        retry_after=parse_retry_after(headers.get("retry-after")),
    )
