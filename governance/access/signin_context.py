"""What checking a sign-in factor needs from the running app: the TOTP secret box, the hashed client address
and the lockout policy. Shared by the sign-in pages and by the console's second-factor re-check."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, request

from governance.access import accounts


def totp_box() -> accounts.SecretBox:
    return accounts.SecretBox(current_app.extensions["governance.keys"].secret("access-totp"))


def address_hash() -> str:
    pepper = current_app.extensions["governance.keys"].secret("access-address")
    return accounts.address_key(request.remote_addr or "unknown", pepper)


def lockout_policy() -> accounts.LockoutPolicy:
    settings = current_app.extensions["governance.settings"]
    return accounts.LockoutPolicy(
        account_failures=settings.get_int("LOGIN_ACCOUNT_FAILURES", 5),
        address_failures=settings.get_int("LOGIN_ADDRESS_FAILURES", 20),
        lock_for=timedelta(seconds=settings.get_int("LOGIN_LOCK_SECONDS", 900)),
    )
