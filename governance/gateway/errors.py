"""Errors the gateway raises on purpose (mapped to JSON by governance.errors). Messages hold no personal data."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from governance.errors import ConflictError, DomainError, ForbiddenError, GoneError, NotFoundError


class SpecNotAllowedError(ForbiddenError):
    """A dataset spec or DP query asks for something policy does not allow; ``not_allowed`` lists each item."""

    code = "not_allowed"

    def __init__(self, not_allowed: Sequence[dict[str, str]]) -> None:
        super().__init__(
            "The request asks for data this purpose or client may not receive.",
            extra={"not_allowed": list(not_allowed)},
        )


class BudgetExhaustedError(DomainError):
    """A reservation would take a privacy budget past its limit; the body says what remains."""

    status, code = 409, "budget_exhausted"

    def __init__(self, *, purpose: str, client_id: str | None, epsilon_left: Decimal, delta_left: Decimal) -> None:
        super().__init__(
            "The privacy budget does not cover this request.",
            extra={
                "budget": {
                    "purpose": purpose,
                    "client_id": client_id,
                    "epsilon_remaining": str(epsilon_left),
                    "delta_remaining": str(delta_left),
                }
            },
        )


class BudgetNotConfiguredError(ForbiddenError):
    """The purpose has no privacy budget (no ``gateway`` block in policies/purposes.yaml)."""

    code = "no_budget"
    default_message = "This purpose has no privacy budget: no DP releases or queries are allowed for it."


class ReservationNotFoundError(NotFoundError):
    code = "reservation_not_found"
    default_message = "No such budget reservation."


class ReservationStateError(ConflictError):
    code = "reservation_settled"
    default_message = "The reservation is already committed or refunded."


class OverspendError(ConflictError):
    code = "spend_exceeds_reservation"
    default_message = "A reservation cannot be committed for more than was reserved."


class ReleaseNotFoundError(NotFoundError):
    code = "release_not_found"
    default_message = "No such dataset release."


class ReleaseNotReadyError(ConflictError):
    code = "release_not_ready"
    default_message = "The release is not ready for download."


class LinkExpiredError(GoneError):
    code = "link_expired"
    default_message = "This download link has expired or is not valid; ask for a new one."


class DPQueryRejectedError(DomainError):
    status, code = 422, "invalid_query"


class JoinableReleaseInProgressError(ConflictError):
    """An earlier release to the same client that this one can be joined with is still being built: the two must
    be measured together, so this one waits (ask again when the earlier one is ready)."""

    code = "joinable_release_in_progress"
    default_message = (
        "An earlier release to this client that can be joined with this one is still being built; "
        "ask again when it is ready."
    )


class IdentifyingFieldsRefusedError(ForbiddenError):
    """A released field narrows people down beyond the policy's threshold and policy says to refuse."""

    code = "identifying_fields"
    default_message = "A released field identifies people beyond the policy's threshold (see the manifest rules)."

    def __init__(self, fields: Sequence[str]) -> None:
        super().__init__(self.default_message, extra={"identifying_fields": list(fields)})
