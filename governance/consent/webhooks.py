"""Signed webhooks to processors (downstream systems): signature scheme and retry schedule, pure functions.

Every delivery carries `Governance-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
(the timestamp is signed so that a captured request cannot be replayed later; receivers reject signatures
older than a tolerance). A processor may hold two secrets during rotation, hence several `v1=` values are
accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable

SIGNATURE_HEADER = "Governance-Signature"
DELIVERY_HEADER = "Governance-Delivery"
EVENT_HEADER = "Governance-Event"
DEFAULT_TOLERANCE_SECONDS = 300

# Backoff between delivery attempts, in seconds: 30 s, 2 min, 8 min, 32 min, ~2 h, then every 6 h until the
# attempt limit. Jobs add jitter of their own.
_BACKOFF_BASE = 30
_BACKOFF_FACTOR = 4
_BACKOFF_CAP = 6 * 3600


class WebhookSignatureError(ValueError):
    """A webhook signature header is missing, malformed, too old, or does not match."""


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise WebhookSignatureError("malformed signature header")
        if name == "t":
            if not value.isdigit():
                raise WebhookSignatureError("malformed signature timestamp")
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookSignatureError("malformed signature header")
    return timestamp, signatures


def verify(
    secrets: bytes | Iterable[bytes],
    body: bytes,
    header: str | None,
    *,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check a signature header as a receiver would; return its timestamp.

    Raises WebhookSignatureError if the header is missing or malformed, older (or newer) than `tolerance`
    seconds, or matches none of `secrets`.
    """
    if not header:
        raise WebhookSignatureError("missing signature header")
    timestamp, signatures = _parse(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookSignatureError("signature timestamp outside tolerance")
    candidates = [secrets] if isinstance(secrets, bytes) else list(secrets)
    for secret in candidates:
        expected = sign(secret, body, timestamp).split(",v1=", 1)[1]
        if any(hmac.compare_digest(expected, sig) for sig in signatures):
            return timestamp
    raise WebhookSignatureError("signature does not match")


def retry_delay(attempt: int) -> int:
    """Seconds to wait after failed attempt number `attempt` (1-based) before the next one."""
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    return int(min(_BACKOFF_CAP, _BACKOFF_BASE * _BACKOFF_FACTOR ** (attempt - 1)))


def derive_secret(service_key: bytes, processor_id: str, secret_version: int) -> str:
    """A processor's signing secret, derived from the service's webhook key (nothing stored per processor).

    Shown once to the admin who registers the processor; both sides use its UTF-8 bytes as the HMAC key.
    Rotating a processor's secret is bumping its `secret_version`; rotating the service key rotates them all.
    """
    info = f"governance.consent.webhook:{processor_id}:{secret_version}".encode()
    return "whsec_" + base64.urlsafe_b64encode(hmac.new(service_key, info, hashlib.sha256).digest()).decode().rstrip(
        "="
    )
