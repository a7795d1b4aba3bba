"""Rate limits (flask-limiter): per client for bearer-token calls, per address otherwise; Redis storage when
GOVERNANCE_RATELIMIT_STORAGE_URL is set, memory otherwise. A breach answers 429 with Retry-After.

Settings: GOVERNANCE_RATELIMIT_DEFAULT (every route; "300/minute;10000/hour", none in the test environment
unless set), GOVERNANCE_RATELIMIT_SIGN_IN (sign-in and token endpoints; "20/minute").
"""

from __future__ import annotations

import threading
import time

from flask import Flask, g, request
from flask_limiter import Limiter
from limits.storage import MemoryStorage

from governance.access.authn import resolve_principal
from governance.access.decorators import enforce

SIGN_IN_ENDPOINTS = (
    "access.login",
    "access.login_totp",
    "access.login_sso",
    "access.login_sso_callback",
    "access.oauth_token",
)


class SweptMemoryStorage(MemoryStorage):
    """limits' in-process storage, swept once a second on the request path instead of by a timer thread.

    MemoryStorage starts a new 10 ms `threading.Timer` on every hit once the previous one has fired, which was
    most of flask-limiter's cost per request (a thread start per write; docs/performance.md). Expiry there only
    frees memory: a moving window ignores entries older than its window whenever it counts, so sweeping later
    never lets a request through that the window would refuse (tests/access/test_ratelimit_storage.py)."""

    STORAGE_SCHEME = ["governance+memory"]
    SWEEP_SECONDS = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._sweeping = threading.Lock()
        self._next_sweep = time.monotonic() + self.SWEEP_SECONDS

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the base class's per-hit timer
        now = time.monotonic()
        if now < self._next_sweep or not self._sweeping.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]  # the base class's own sweep
        finally:
            self._sweeping.release()


def rate_key() -> str:
    """Per client for bearer-token calls, per address otherwise. Runs before authorization (so that failed
    attempts count too); the principal it resolves is memoized for the access hook."""
    principal = g.get("principal") or resolve_principal(request, required=False)
    if principal.kind == "client":
        return f"client:{principal.id}"
    return f"addr:{request.remote_addr or 'unknown'}"


def _limits(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def init_limiter(app: Flask) -> Limiter:
    settings = app.extensions["governance.settings"]
    fallback = "" if settings.env == "test" else "300/minute;10000/hour"
    default = _limits(settings.get("RATELIMIT_DEFAULT", fallback))
    sign_in = settings.get("RATELIMIT_SIGN_IN", "" if settings.env == "test" else "20/minute")
    limiter = Limiter(
        rate_key,
        app=app,
        default_limits=list(default),
        storage_uri=settings.ratelimit_storage_url or "governance+memory://",
        headers_enabled=True,
        key_prefix=settings.get("RATELIMIT_KEY_PREFIX", "governance") or "governance",
        strategy="moving-window",
    )
    _check_limits_before_authorization(app, limiter)
    if sign_in:
        for endpoint in SIGN_IN_ENDPOINTS:
            view = app.view_functions.get(endpoint)
            if view is not None:
                app.view_functions[endpoint] = limiter.limit(sign_in, key_func=_address_key)(view)  # type: ignore[assignment]  # flask-limiter types the wrapper as sync-or-async
    return limiter


def _check_limits_before_authorization(app: Flask, limiter: Limiter) -> None:
    """flask-limiter appends its check to the before-request hooks; move it in front of the access hook so
    that unauthenticated and unauthorized calls are limited too."""
    hooks = app.before_request_funcs.setdefault(None, [])
    check = next((h for h in hooks if getattr(h, "__self__", None) is limiter), None)
    if check is None or enforce not in hooks:
        return
    hooks.remove(check)
    hooks.insert(hooks.index(enforce), check)


def _address_key() -> str:
    return f"addr:{request.remote_addr or 'unknown'}"
