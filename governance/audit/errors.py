"""Errors of the audit domain."""

from __future__ import annotations

from governance.errors import DomainError


class AuditDetailsError(DomainError):
    """Raised by `record` when details (or actor/target ids) look like personal data or have no canonical form.

    This is a programming error in the calling domain: the whole transaction is refused rather than leaking."""

    status = 500
    code = "audit_details_rejected"
    default_message = "An audit entry was refused because it could contain personal data."


class AuditFilterError(DomainError):
    status = 422
    code = "invalid_audit_filter"
    default_message = "The audit search filter is not valid."


class AuditProofError(DomainError):
    """A proof was asked for tree sizes or positions the signed log does not have."""

    status = 422
    code = "invalid_proof_request"
    default_message = "No proof can be built for these tree sizes."


class CheckpointNotFoundError(DomainError):
    status = 404
    code = "checkpoint_not_found"
    default_message = "No signed checkpoint has this tree size."
