"""Rate limits: per client for bearer-token calls, per address otherwise, counted in a moving window by the
`limits` library; Redis storage when GOVERNANCE_RATELIMIT_STORAGE_URL is set, memory otherwise. A breach answers
429 `rate_limited` with Retry-After; every limited response carries X-RateLimit-Limit/-Remaining/-Reset.

When the storage cannot be reached (Redis down), requests pass uncounted rather than fail: a cache outage must not
stop consent checks, and sign-in stays bounded by the lockouts kept in the database (access.accounts). The gate
then leaves the storage alone for STORAGE_REST_SECONDS, so one request in that time pays the failed connection,
logs it (the error's type only: its text can name the server) and counts it in
`governance_ratelimit_storage_errors_total`.

Settings: GOVERNANCE_RATELIMIT_DEFAULT (every route; "300/minute;10000/hour", none in the test environment
unless set), GOVERNANCE_RATELIMIT_SIGN_IN (sign-in and token endpoints, per address; "20/minute").

The gate here replaces flask-limiter's request glue, which resolved each request's limits afresh (defaults,
decorators, exemption scopes, meta limits) and cost 15 % of a consent check (docs/performance.md). An endpoint's
limits are fixed once the app is built, so the gate resolves them once per endpoint; per request it derives a
key, makes one `hit` per limit and one window read for the headers. Storage keys are flask-limiter's own
(`prefix/key/endpoint`), so counts in Redis carry over across an upgrade.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import Flask, Response, g, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, StorageTypes, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from prometheus_client import Counter

from governance.access.authn import resolve_principal
from governance.access.decorators import enforce
from governance.errors import RateLimitedError

log = logging.getLogger("governance.access.ratelimit")

SIGN_IN_ENDPOINTS = (
    "access.login",
    "access.login_totp",
    "access.login_sso",
    "access.login_sso_callback",
    "access.oauth_token",
)

STORAGE_REST_SECONDS = 5.0
# A storage that stops answering (a dropped network path) must not hold requests: seconds to connect and to answer,
# unless the storage URL says otherwise (redis-py reads `socket_timeout` and the like from the URL's query).
REDIS_TIMEOUTS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
STORAGE_ERRORS = Counter(
    "governance_ratelimit_storage_errors_total", "Rate-limit storage failures; requests passed uncounted after each"
)

# Requests that match no route (404, 405) share one scope per key, so that probing unknown paths is limited too.
UNROUTED_SCOPE = "(unrouted)"


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
    return address_key()


def address_key() -> str:
    return f"addr:{request.remote_addr or 'unknown'}"


@dataclass(frozen=True, slots=True)
class Plan:
    """An endpoint's limits, smallest window first, the key function that says whom a request counts for, and
    the scope that keeps the endpoint's counts apart from other endpoints'."""

    limits: tuple[RateLimitItem, ...]
    key: Callable[[], str]
    scope: str


@dataclass(frozen=True, slots=True)
class Counted:
    """The limit a response's headers describe, with the storage identifiers it was counted under."""

    limit: RateLimitItem
    identifiers: tuple[str, str, str]


NO_LIMITS = Plan((), address_key, "")


class RateGate:
    """Counts each request against its endpoint's limits before the access hook runs; answers 429 on a breach.

    An endpoint has the default limits, or the limits set for it with `limit()` instead of them, or none once
    `exempt()`ed. Limits are counted smallest window first and the first breach stops the count, as
    flask-limiter did; the headers describe the breached limit, or else the smallest window's."""

    def __init__(self, storage: Storage, defaults: Iterable[RateLimitItem], key_prefix: str) -> None:
        self.storage = storage
        self.enabled = True
        self._window = MovingWindowRateLimiter(storage)
        self._defaults = _by_window(defaults)
        self._prefix = key_prefix
        self._overrides: dict[str, tuple[tuple[RateLimitItem, ...], Callable[[], str]]] = {}
        self._exempt: set[str] = set()
        self._plans: dict[str | None, Plan] = {}
        self._resting_until = 0.0  # monotonic time before which the storage is not tried again after a failure

    def limit(self, endpoint: str, limits: Iterable[RateLimitItem], key: Callable[[], str]) -> None:
        """Count `endpoint` against `limits` instead of the defaults, keyed by `key`."""
        self._overrides[endpoint] = (_by_window(limits), key)
        self._plans.clear()

    def exempt(self, endpoint: str) -> None:
        self._exempt.add(endpoint)
        self._plans.clear()

    def plan_for(self, endpoint: str | None) -> Plan:
        """The endpoint's plan, resolved on its first request and kept: an app's endpoints and limits are fixed
        once it is built (the table holds one entry per endpoint, plus one for unrouted requests)."""
        plan = self._plans.get(endpoint)
        if plan is None:
            plan = self._plans[endpoint] = self._resolve(endpoint)
        return plan

    def _resolve(self, endpoint: str | None) -> Plan:
        if endpoint is None:
            return Plan(self._defaults, rate_key, UNROUTED_SCOPE) if self._defaults else NO_LIMITS
        if endpoint in self._exempt:
            return NO_LIMITS
        limits, key = self._overrides.get(endpoint, (self._defaults, rate_key))
        return Plan(limits, key, endpoint) if limits else NO_LIMITS

    def check(self) -> None:
        """The before-request hook: one hit per limit, smallest window first, until the first breach."""
        plan = self.plan_for(request.endpoint)
        if not plan.limits or not self.enabled or time.monotonic() < self._resting_until:
            return
        identifiers = (self._prefix, plan.key(), plan.scope)
        try:
            for limit in plan.limits:
                if not self._window.hit(limit, *identifiers):
                    # The endpoint and the limit only: the key names a client or an address.
                    log.info("rate limit exceeded", extra={"endpoint": plan.scope, "limit": str(limit)})
                    raise RateLimitedError(headers=self._headers(Counted(limit, identifiers), breached=True))
        except StorageError as exc:
            self._storage_failed(exc)
            return
        g.rate_limit_counted = Counted(plan.limits[0], identifiers)

    def add_headers(self, response: Response) -> Response:
        """The after-request hook: the smallest window's state after this request (a 429 has its own)."""
        counted = g.pop("rate_limit_counted", None)
        if counted is not None:
            try:
                response.headers.update(self._headers(counted, breached=False))
            except StorageError as exc:
                self._storage_failed(exc)  # counted, but its state unknown: no headers rather than wrong ones
        return response

    def _storage_failed(self, exc: StorageError) -> None:
        self._resting_until = time.monotonic() + STORAGE_REST_SECONDS
        STORAGE_ERRORS.inc()
        log.warning(
            "rate-limit storage unavailable: requests pass uncounted",
            extra={"error_type": type(exc.storage_error).__name__, "retry_in_seconds": STORAGE_REST_SECONDS},
        )

    def _headers(self, counted: Counted, *, breached: bool) -> dict[str, str]:
        stats = self._window.get_window_stats(counted.limit, *counted.identifiers)
        reset_at = int(stats.reset_time + 1)
        headers = {
            "X-RateLimit-Limit": str(counted.limit.amount),
            "X-RateLimit-Remaining": str(stats.remaining),
            "X-RateLimit-Reset": str(reset_at),
        }
        if breached:
            # whole seconds until the oldest counted hit leaves the window, rounded up: waiting that long admits
            headers["Retry-After"] = str(max(1, math.ceil(stats.reset_time - time.time())))
        return headers


def _by_window(limits: Iterable[RateLimitItem]) -> tuple[RateLimitItem, ...]:
    return tuple(sorted(limits, key=lambda item: item.get_expiry()))


def _limits(value: str | None) -> list[RateLimitItem]:
    return parse_many(value) if value and value.strip() else []


def init_limiter(app: Flask) -> RateGate:
    settings = app.extensions["governance.settings"]
    fallback = "" if settings.env == "test" else "300/minute;10000/hour"
    storage = _storage(settings.ratelimit_storage_url or "governance+memory://")
    if not isinstance(storage, Storage):  # an `async+` URL names an asyncio storage, which a sync worker can't use
        raise ValueError("GOVERNANCE_RATELIMIT_STORAGE_URL must name a synchronous storage (no async+ scheme)")
    gate = RateGate(
        storage,
        _limits(settings.get("RATELIMIT_DEFAULT", fallback)),
        key_prefix=settings.get("RATELIMIT_KEY_PREFIX", "governance") or "governance",
    )
    sign_in = _limits(settings.get("RATELIMIT_SIGN_IN", "" if settings.env == "test" else "20/minute"))
    if sign_in:
        for endpoint in SIGN_IN_ENDPOINTS:
            if endpoint in app.view_functions:
                gate.limit(endpoint, sign_in, key=address_key)
    _check_before_authorization(app, gate.check)
    app.after_request(gate.add_headers)
    return gate


def _storage(url: str) -> StorageTypes:
    """The storage named by `url`, raising limits' StorageError for its failures (the gate passes requests then)."""
    options: dict[str, float | str | bool] = {"wrap_exceptions": True}
    if url.split(":", 1)[0] in ("redis", "rediss", "redis+unix"):
        options.update(REDIS_TIMEOUTS)
    return storage_from_string(url, **options)


def _check_before_authorization(app: Flask, check: Callable[[], None]) -> None:
    """Limits count before the access hook, so that unauthenticated and unauthorized calls are limited too."""
    hooks = app.before_request_funcs.setdefault(None, [])
    hooks.insert(hooks.index(enforce) if enforce in hooks else len(hooks), check)
