"""Python client of the privacy and consent governance service, for product backends and model services.

    from governance_client import GovernanceClient

    with GovernanceClient(url, client_id, client_secret, scopes=["consents:read"]) as gc:
        if gc.consents.allowed(subject_id, "personalized_recommendations"):
            ...

See docs/client.md. The low-level layer (`governance_client._generated`) is generated from the service's OpenAPI
document by openapi-python-client (scripts/generate_client.py); everything else here is written by hand.
"""

from governance_client.client import GovernanceClient, __version__
from governance_client.errors import (
    AlreadyErasedError,
    ApiError,
    AuthenticationError,
    BadRequestError,
    BudgetExhaustedError,
    ChecksumMismatchError,
    ConflictError,
    GoneError,
    GovernanceError,
    IdempotencyKeyReusedError,
    JobFailedError,
    LinkExpiredError,
    NotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    SubjectNotFoundError,
    TokenError,
    TransportError,
    UnknownPurposeError,
    UnsupportedMediaTypeError,
    ValidationError,
    WaitTimeoutError,
)
from governance_client.pagination import Page, iter_items, iter_pages
from governance_client.resources import EventRejection, IntakeReport, Permission
from governance_client.retry import ClientStats, RetryEvent, RetryPolicy

__all__ = [
    "AlreadyErasedError",
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExhaustedError",
    "ChecksumMismatchError",
    "ClientStats",
    "ConflictError",
    "EventRejection",
    "GoneError",
    "GovernanceClient",
    "GovernanceError",
    "IdempotencyKeyReusedError",
    "IntakeReport",
    "JobFailedError",
    "LinkExpiredError",
    "NotAllowedError",
    "NotFoundError",
    "Page",
    "PayloadTooLargeError",
    "Permission",
    "PermissionDeniedError",
    "RateLimitedError",
    "RetryEvent",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailableError",
    "SubjectNotFoundError",
    "TokenError",
    "TransportError",
    "UnknownPurposeError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "WaitTimeoutError",
    "__version__",
    "iter_items",
    "iter_pages",
]
