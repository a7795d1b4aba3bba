"""What checking a sign-in factor needs from the running app: the TOTP secret box, the hashed client address
and the lockout policy; and what the sign-in pages (views.py, sso_pages.py) share: the pending second step's
cookie key and lifetime, and the checked `next` address. Shared by the sign-in pages and by the console's
second-factor re-check."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, request

from governance.access import accounts, redirects

PENDING_KEY = "access_pending"  # first factor passed, second factor awaited
PENDING_LIFETIME = timedelta(minutes=5)


def safe_next(default: str = "/console") -> str:
    """The request's `next` address when it stays on this site, else `default`."""
    return redirects.safe_next(request.args.get("next"), default)


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
