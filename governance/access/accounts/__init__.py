"""Staff accounts: creation, sign-in with password and TOTP, lockout per account and per address, enrolment
of the second factor, recovery codes, password reset by an admin, break-glass reasons.

Functions take a Session and never commit; each sign-in attempt (success or failure) is committed by the
route together with its audit entry, so a failure counter cannot be rolled back by the error response.

The modules, by concern: `staff` (roles, creation, administration), `sign_in` (password, second factor,
lockout), `second_factor` (TOTP enrolment, recovery codes). This package re-exports their names, so callers
import `governance.access.accounts` only.
"""

from governance.access.accounts.second_factor import (
    SecretBox,
    begin_totp_enrolment,
    confirm_totp_enrolment,
    pending_totp_secret,
    replace_recovery_codes,
)
from governance.access.accounts.sign_in import (
    LockoutPolicy,
    address_key,
    check_address,
    check_password,
    check_second_factor,
    name_key,
    record_failure,
    remaining_recovery_codes,
    signed_in,
)
from governance.access.accounts.staff import (
    MFA_ROLES,
    ROLES,
    break_glass_grants,
    change_password,
    create_staff,
    deactivate_staff,
    get_staff,
    list_staff,
    needs_mfa,
    reset_password,
    store_break_glass_reason,
)

__all__ = [
    "MFA_ROLES",
    "ROLES",
    "LockoutPolicy",
    "SecretBox",
    "address_key",
    "begin_totp_enrolment",
    "break_glass_grants",
    "change_password",
    "check_address",
    "check_password",
    "check_second_factor",
    "confirm_totp_enrolment",
    "create_staff",
    "deactivate_staff",
    "get_staff",
    "list_staff",
    "name_key",
    "needs_mfa",
    "pending_totp_secret",
    "record_failure",
    "remaining_recovery_codes",
    "replace_recovery_codes",
    "reset_password",
    "signed_in",
    "store_break_glass_reason",
]
