"""Webhook signatures (HMAC-SHA256 over timestamp and body) and the retry schedule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.consent.webhooks import WebhookSignatureError, derive_secret, retry_delay, sign, verify

SECRET = b"whsec_test"


@given(st.binary(max_size=2048), st.integers(1_600_000_000, 2_000_000_000))
def test_signature_round_trip(body: bytes, timestamp: int) -> None:
    assert verify(SECRET, body, sign(SECRET, body, timestamp), now=timestamp) == timestamp


def test_signature_rejects_changes_age_and_other_secret() -> None:
    header = sign(SECRET, b'{"a":1}', 1_700_000_000)
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify(SECRET, b'{"a":2}', header, now=1_700_000_000)
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify(b"other", b'{"a":1}', header, now=1_700_000_000)
    with pytest.raises(WebhookSignatureError, match="tolerance"):
        verify(SECRET, b'{"a":1}', header, now=1_700_000_000 + 301)
    for bad in [None, "", "t=1", "v1=abc", "t=x,v1=ab", "garbage"]:
        with pytest.raises(WebhookSignatureError):
            verify(SECRET, b"", bad, now=1)


def test_rotation_accepts_either_secret() -> None:
    header = sign(b"old", b"x", 100)
    assert verify([b"new", b"old"], b"x", header, now=100) == 100


def test_retry_delays_grow_and_are_capped() -> None:
    delays = [retry_delay(n) for n in range(1, 12)]
    assert delays[0] == 30
    assert delays == sorted(delays)
    assert max(delays) == 6 * 3600
    with pytest.raises(ValueError, match="start at 1"):
        retry_delay(0)


def test_derived_secrets_differ_per_processor_and_version() -> None:
    key = b"k" * 32
    a1, a2, b1 = derive_secret(key, "a", 1), derive_secret(key, "a", 2), derive_secret(key, "b", 1)
    assert len({a1, a2, b1}) == 3
    assert a1 == derive_secret(key, "a", 1)
    assert a1.startswith("whsec_")
