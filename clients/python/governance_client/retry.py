"""Retries with backoff, as an httpx transport under every call (generated or hand-written).

- 429 (rate limited) is retried for every method: the service's limiter answers before any view runs, so the
  request did nothing. 503 is retried when repeating cannot do something twice: GET/HEAD/OPTIONS, a write that
  carries an `Idempotency-Key`, the read-only `POST /api/v1/consents/check`, and the OAuth endpoints.
- The wait is the answer's `Retry-After` (seconds or an HTTP date) when it gives one, else exponential backoff
  with jitter (`backoff_base * 2**attempt`, at most `backoff_max`, times 0.5 to 1.0).
- Bounded: at most `max_retries` retries, and a `Retry-After` longer than `max_retry_after` is not waited for:
  the answer goes back to the caller at once (which raises `RateLimitedError` with `retry_after`), so a client
  never sleeps for an hour inside a call.
- A connection that could not be opened (ConnectError, ConnectTimeout) is retried with backoff too: the request
  never reached the service.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from governance_client.errors import parse_retry_after

log = logging.getLogger("governance_client")

RETRY_STATUSES = frozenset({429, 503})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SAFE_POST_PATHS = frozenset({"/api/v1/consents/check", "/oauth/token", "/oauth/introspect", "/oauth/revoke"})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    backoff_base: float = 0.25
    backoff_max: float = 8.0
    max_retry_after: float = 60.0  # a longer Retry-After is handed to the caller instead of waited for
    seed: int | None = None  # jitter seed (tests, benchmarks); None: random

    def backoff(self, attempt: int, rng: random.Random) -> float:
        return min(self.backoff_max, self.backoff_base * 2**attempt) * (0.5 + rng.random() / 2)


@dataclass(frozen=True)
class RetryEvent:
    """One retry: what was answered, how long the client waited, and whether the wait was the server's."""

    status: int | None  # None for a connection that could not be opened
    delay: float
    attempt: int
    retry_after: float | None


@dataclass
class ClientStats:
    """What the client did, for metrics and tests (no URLs, no personal data)."""

    requests: int = 0
    retries: list[RetryEvent] = field(default_factory=list)
    tokens_fetched: int = 0
    tokens_rejected: int = 0  # 401 invalid_token answers that made the client fetch a new token
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_request(self) -> None:
        with self._lock:
            self.requests += 1

    def add_retry(self, event: RetryEvent) -> None:
        with self._lock:
            self.retries.append(event)


def retryable(request: httpx.Request, status: int) -> bool:
    if status == 429:
        return True
    if request.method in _SAFE_METHODS or "idempotency-key" in request.headers:
        return True
    return request.method == "POST" and request.url.path in _SAFE_POST_PATHS


class RetryTransport(httpx.BaseTransport):
    """Wraps a transport; repeats a request answered 429/503 (or never sent) within the policy's bounds."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        policy: RetryPolicy,
        stats: ClientStats,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._inner, self._policy, self._stats, self._sleep = inner, policy, stats, sleep
        self._rng = random.Random(policy.seed)  # noqa: S311 - jitter, not a secret

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            self._stats.count_request()
            try:
                response = self._inner.handle_request(request)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if attempt >= self._policy.max_retries:
                    raise
                self._wait(RetryEvent(None, self._policy.backoff(attempt, self._rng), attempt, None))
                attempt += 1
                continue
            if response.status_code not in RETRY_STATUSES or attempt >= self._policy.max_retries:
                return response
            if not retryable(request, response.status_code):
                return response
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after is not None and retry_after > self._policy.max_retry_after:
                return response  # too long to wait inside a call: the caller decides
            delay = retry_after if retry_after else self._policy.backoff(attempt, self._rng)
            response.close()  # give the connection back before sleeping
            self._wait(RetryEvent(response.status_code, delay, attempt, retry_after))
            attempt += 1

    def _wait(self, event: RetryEvent) -> None:
        self._stats.add_retry(event)
        log.info(
            "retrying a request",
            extra={"status": event.status, "attempt": event.attempt + 1, "delay_seconds": round(event.delay, 3)},
        )
        self._sleep(event.delay)

    def close(self) -> None:
        self._inner.close()
