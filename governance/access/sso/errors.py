"""Single sign-on errors: stable codes; messages never name the person or echo the provider's text."""

from __future__ import annotations

from typing import Any

from governance.errors import DomainError


class SsoDisabledError(DomainError):
    status, code, default_message = 404, "sso_disabled", "Single sign-on is not configured."


class SsoUnavailableError(DomainError):
    """The provider cannot be reached or answers nonsense. Local sign-in keeps working."""

    status, code = 503, "sso_unavailable"
    default_message = (
        "The company sign-in service cannot be reached right now. Try again in a few minutes; "
        "administrators with a local account can still sign in with their password."
    )

    def __init__(self, reason: str) -> None:
        super().__init__(headers={"Retry-After": "30"})
        self.reason = reason


class SsoRefusedError(DomainError):
    """A sign-in through the provider that is refused. `reason` is the audit's short code."""

    status, code = 403, "sso_refused"
    default_message = "Sign-in through the company sign-in service was refused."

    def __init__(self, code: str, reason: str, *, status: int = 403, staff_id: Any = None) -> None:
        super().__init__(_MESSAGES.get(code, self.default_message), code=code, status=status)
        self.reason = reason
        self.staff_id = staff_id  # the account concerned, once known (for the audit entry's target)


_MESSAGES = {
    "sso_state_invalid": "This sign-in link is not valid or has expired. Start the sign-in again.",
    "sso_token_invalid": "The sign-in service's answer could not be verified. Start the sign-in again.",
    "sso_provider_error": "The sign-in service did not sign you in. Start the sign-in again.",
    "sso_no_role": "You are signed in at the company sign-in service, but your account has no role here yet. "
    "Ask an administrator to give your group access.",
    "sso_mfa_required": "Your role needs multi-factor sign-in. Sign in at the company sign-in service with "
    "your second factor and try again.",
    "sso_account_disabled": "This account is disabled. Ask an administrator.",
}


def _state_error(reason: str) -> SsoRefusedError:
    return SsoRefusedError("sso_state_invalid", reason, status=400)


def _token_error(reason: str) -> SsoRefusedError:
    return SsoRefusedError("sso_token_invalid", reason, status=401)
