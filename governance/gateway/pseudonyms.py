"""Keyed pseudonyms for released datasets.

A pseudonym is ``HMAC-SHA256(key, subject id)`` truncated to 128 bits. By default every release draws a
fresh random key that is never stored, so two releases cannot be joined on pseudonyms and nobody (not even
this service) can map a pseudonym back later; lineage is kept separately by subject id. When policy allows
it, a client gets a *stable* key for one purpose, derived with HKDF from the service's pseudonym secret and
bound to the client id and purpose, so it is never shared across clients or purposes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["Pseudonymizer", "fresh_key", "stable_key"]

PseudonymMode = Literal["per_release", "stable"]


def fresh_key() -> bytes:
    """A random 256-bit key for one release."""
    return secrets.token_bytes(32)


def stable_key(secret: bytes, *, client_id: str, purpose: str, version: int = 1) -> bytes:
    """The stable key of one (client, purpose) pair, derived from the service's pseudonym secret.

    Raises ``ValueError`` for a secret shorter than 32 bytes.
    """
    if len(secret) < 32:
        raise ValueError("pseudonym secret must be at least 32 bytes")
    info = b"\x00".join([b"gateway-stable-pseudonym", str(version).encode(), client_id.encode(), purpose.encode()])
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


@dataclass(frozen=True, slots=True)
class Pseudonymizer:
    """Maps subject ids to pseudonyms with one key. ``repr`` never shows the key."""

    key: bytes
    mode: PseudonymMode = "per_release"

    def __post_init__(self) -> None:
        if len(self.key) < 32:
            raise ValueError("pseudonym key must be at least 32 bytes")

    def __repr__(self) -> str:
        return f"Pseudonymizer(mode={self.mode!r})"

    def __call__(self, subject_id: uuid.UUID) -> str:
        return "p_" + hmac.new(self.key, subject_id.bytes, hashlib.sha256).hexdigest()[:32]

    @classmethod
    def for_release(cls) -> Pseudonymizer:
        return cls(fresh_key(), "per_release")
