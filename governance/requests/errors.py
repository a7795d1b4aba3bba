"""Errors of the requests domain. Codes are stable (docs/requests.md); messages hold no personal data."""

from __future__ import annotations

from governance.errors import ConflictError, DomainError, GoneError, NotFoundError, ValidationFailedError


class RequestsError(DomainError):
    """Base of every requests-domain error."""


class RequestNotFoundError(RequestsError, NotFoundError):
    """The request does not exist, or the caller may not see it (subjects never learn of others' requests)."""

    code, default_message = "request_not_found", "No such request."


class SubjectAlreadyErasedError(RequestsError, NotFoundError):
    """The subject was erased already; nothing can be exported, corrected or erased again."""

    code, default_message = "already_erased", "This data subject has already been erased."


class UnknownRequestKindError(RequestsError, ValidationFailedError):
    """The request kind is not one of access, portability, erasure, rectification, objection."""

    code, default_message = "unknown_kind", "Unknown request kind."


class InvalidTransitionError(RequestsError, ConflictError):
    """The lifecycle does not allow this status change (for example reopening a completed request)."""

    code, default_message = (
        "invalid_transition",
        "The request cannot move to that status from its current one.",
    )


class OutcomeReasonRequiredError(RequestsError, ValidationFailedError):
    """A rejection needs a reason the subject can read; a partial completion a reason per item left."""

    code, default_message = "reason_required", "A reason is required for this outcome."


class ExtensionNotAllowedError(RequestsError, ValidationFailedError):
    """An extension without a reason, beyond the legal maximum, or notified too late (`code` says which)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


class ManualActionRefusedError(RequestsError, ConflictError):
    """A DPO's hand completion or retry is not possible in the request's state (`code` says why:
    `not_in_progress`, `erasure_not_shredded`, `nothing_to_retry`, `job_not_failed`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


class BundleIntegrityError(RequestsError):
    """An encrypted export bundle failed authentication (wrong key, wrong bundle id, or tampered bytes)."""

    status, code, default_message = 500, "bundle_corrupt", "The export bundle cannot be decrypted."


class DownloadLinkGoneError(RequestsError, GoneError):
    """The download link expired, was already used by another session, or its bundle was deleted."""

    code, default_message = "link_expired", "This download link has expired."


class CertificateInvalidError(RequestsError, ValidationFailedError):
    """An erasure certificate's signature or content does not verify."""

    code, default_message = "certificate_invalid", "The erasure certificate does not verify."
