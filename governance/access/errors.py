"""Access errors. Messages are shown to callers: they never say whether an account or token exists."""

from __future__ import annotations

from governance.errors import (
    AuthenticationRequiredError,
    ConflictError,
    DomainError,
    GoneError,
    NotFoundError,
    RateLimitedError,
    ValidationFailedError,
)


class SignInFailedError(AuthenticationRequiredError):
    code = "sign_in_failed"
    default_message = "The name, password or code is not correct."


class AccountLockedError(RateLimitedError):
    """Too many failed sign-ins for this account or address; `Retry-After` says when to try again."""

    code = "locked"
    default_message = "Too many failed attempts. Try again later."


class LinkInvalidError(GoneError):
    """A dashboard link that is unknown, expired or already used (one message for all three)."""

    code = "link_invalid"
    default_message = "This link has expired or was already used. Ask for a new one."


class UnknownClientError(NotFoundError):
    code = "unknown_client"
    default_message = "No such client."


class UnknownStaffError(NotFoundError):
    code = "unknown_staff"
    default_message = "No such staff account."


class DuplicateError(ConflictError):
    code = "already_exists"
    default_message = "It already exists."


class SsoAccountError(ConflictError):
    """A password operation on an account that signs in through single sign-on (its password is the provider's)."""

    code = "sso_account"
    default_message = "This account signs in through single sign-on; its password is managed by the sign-in service."


class InvalidCredentialSettingsError(ValidationFailedError):
    code = "validation_failed"


__all__ = [
    "AccountLockedError",
    "DomainError",
    "DuplicateError",
    "InvalidCredentialSettingsError",
    "LinkInvalidError",
    "SignInFailedError",
    "SsoAccountError",
    "UnknownClientError",
    "UnknownStaffError",
]
