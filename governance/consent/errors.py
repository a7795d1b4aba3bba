"""Errors the consent service raises on purpose (mapped to JSON by governance.errors). No personal data."""

from __future__ import annotations

from collections.abc import Iterable

from governance.errors import ConflictError, DomainError, NotFoundError, ValidationFailedError


class UnknownPurposeError(ValidationFailedError):
    """A purpose key that the policy does not define; the body lists the valid keys."""

    code = "unknown_purpose"

    def __init__(self, purpose: str, valid: Iterable[str]) -> None:
        del purpose  # the client's text: never echoed (docs/api.md); the valid keys say what to send instead
        super().__init__(
            "Unknown purpose: see valid_purposes.",
            fields={"purpose": "unknown purpose"},
            extra={"valid_purposes": sorted(valid)},
        )


class BasisNotConsentError(ValidationFailedError):
    """A consent decision for a purpose whose legal basis is not consent (it needs none and cannot take one)."""

    code = "basis_not_consent"


class ObjectionNotApplicableError(ValidationFailedError):
    """An objection to a purpose based on contract or legal obligation (Art. 21 GDPR does not apply)."""

    code = "objection_not_applicable"


class InvalidDecisionError(ValidationFailedError):
    """A decision that is not well-formed: unknown decision, bad notice version, collection time in the future."""

    code = "invalid_decision"


class IdempotencyConflictError(ConflictError):
    """The same Idempotency-Key was used before with a different request."""

    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was already used with a different request."


class ProcessorNotFoundError(NotFoundError):
    code = "processor_not_found"
    default_message = "No such processor."


class ImportNotFoundError(NotFoundError):
    code = "import_not_found"
    default_message = "No such import."


class ImportRejectedError(DomainError):
    """An import file that cannot be processed at all (malformed, oversized); nothing was imported."""

    status = 422
    code = "import_rejected"
