"""Retries against the service's real rate limiter (access.ratelimit, per client): a 429 is waited out for its
`Retry-After` and the call then succeeds; a `Retry-After` beyond the client's bound is not slept through but
raised at once; a closed port is retried with backoff and ends in a TransportError."""

from __future__ import annotations

import time
import uuid

import pytest

from governance_client import (
    GovernanceClient,
    RateLimitedError,
    RetryPolicy,
    SubjectNotFoundError,
    TransportError,
)
from governance_client.errors import parse_retry_after
from tests.client.conftest import wait_for
from tests.fixtures.ports import unused_port

PURPOSE = "personalized_recommendations"


def checked(gc: GovernanceClient) -> float:
    """One authenticated call (an unknown subject answers 404); returns how long it took."""
    started = time.monotonic()
    with pytest.raises(SubjectNotFoundError):
        gc.consents.check(uuid.uuid4(), PURPOSE)
    return time.monotonic() - started


def test_a_429_is_waited_out_for_its_retry_after_then_the_call_succeeds(serve) -> None:
    server = serve(RATELIMIT_DEFAULT="2/4 seconds")
    gc = server.client(["consents:read"])
    durations: list[float] = []

    def limited_once() -> bool:
        durations.append(checked(gc))
        return any(event.status == 429 for event in gc.stats.retries)

    wait_for(limited_once, timeout=120, interval=0)
    event = next(e for e in gc.stats.retries if e.status == 429)
    assert event.retry_after is not None
    assert 1 <= event.retry_after <= 4  # the limiter's moving window
    assert event.delay == event.retry_after  # the server's wait, not the client's backoff
    assert durations[-1] >= event.delay  # it really waited before the answer that succeeded
    assert gc.stats.requests > len(durations)  # the retried attempts went out as requests


def test_a_retry_after_beyond_the_bound_is_raised_at_once(serve) -> None:
    server = serve(RATELIMIT_DEFAULT="1/hour")
    gc = server.client(["consents:read"], retry=RetryPolicy(max_retry_after=60))
    checked(gc)
    with pytest.raises(RateLimitedError) as limited:
        gc.consents.check(uuid.uuid4(), PURPOSE)
    error = limited.value
    assert (error.status_code, error.code) == (429, "rate_limited")
    assert error.retry_after is not None
    assert error.retry_after > 60
    assert gc.stats.retries == []  # never slept


def test_retries_are_bounded_and_then_the_429_is_raised(serve) -> None:
    server = serve(RATELIMIT_DEFAULT="1/30 seconds")
    gc = server.client(["consents:read"], retry=RetryPolicy(max_retries=0))
    checked(gc)
    with pytest.raises(RateLimitedError) as limited:
        gc.consents.check(uuid.uuid4(), PURPOSE)
    assert limited.value.retry_after is not None
    assert limited.value.request_id


def test_a_port_nobody_listens_on_is_retried_with_backoff_then_a_transport_error() -> None:
    port = unused_port()  # nothing listens there
    policy = RetryPolicy(max_retries=3, backoff_base=0.01, seed=7)
    with GovernanceClient(f"http://127.0.0.1:{port}", "svc", "secret", retry=policy) as gc:
        with pytest.raises(TransportError) as failed:
            gc.consents.check(uuid.uuid4(), PURPOSE)
        assert failed.value.kind == "ConnectError"
        assert [e.status for e in gc.stats.retries] == [None, None, None]
        delays = [e.delay for e in gc.stats.retries]
        assert all(0.5 * 0.01 * 2**i <= d <= 0.01 * 2**i for i, d in enumerate(delays))
        assert str(port) not in str(failed.value)


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 02 Dec 2026 05:00:30 GMT", now=1_796_187_600.0) == 30.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_a_503_of_a_read_is_retried_with_backoff_then_raised(serve, tmp_path) -> None:
    """A real 503: `/readyz` of a service whose database was never migrated. The read is repeated with backoff
    (no Retry-After given), then raised as ServiceUnavailableError; a public call fetches no token."""
    from governance_client import ServiceUnavailableError
    from governance_client._generated.api.health import get_readyz

    server = serve(DATABASE_URL=f"sqlite:///{tmp_path}/never-migrated.sqlite3")
    policy = RetryPolicy(max_retries=2, backoff_base=0.01, seed=3)
    with GovernanceClient(server.url, "svc", "secret", retry=policy) as gc:
        with pytest.raises(ServiceUnavailableError) as unavailable:
            gc.call_public(get_readyz)
        assert unavailable.value.status_code == 503
        assert [(e.status, e.retry_after) for e in gc.stats.retries] == [(503, None), (503, None)]
        assert gc.stats.requests == 3
        assert gc.stats.tokens_fetched == 0
