"""Signed erasure certificates: a compact JWS (alg Ed25519, RFC 9864) subjects and auditors verify offline.

The certificate states what was deleted, what was kept and why (retention exceptions from policy), which
downstream systems confirmed the deletion, and how many trained models were flagged. It holds ids, category
names and counts only; never the erased personal data.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from governance.requests.errors import CertificateInvalidError

__all__ = [
    "CERTIFICATE_TYPE",
    "CertificateClaims",
    "DownstreamConfirmation",
    "KeptItem",
    "jwks",
    "key_id",
    "sign_certificate",
    "verify_certificate",
]

CERTIFICATE_TYPE = "erasure-certificate+jws"
_ALGORITHMS = ["Ed25519"]  # RFC 9864: the fully specified name ("EdDSA" is deprecated)


class _Claims(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeptItem(_Claims):
    category: str
    basis: str
    reason: str = Field(description="Why it was kept, as the subject reads it.")
    retain_until: str | None = Field(default=None, description="ISO date after which it is deleted too.")


class DownstreamConfirmation(_Claims):
    processor: str = Field(description="The processor's registered name (not personal data).")
    status: str = Field(description="confirmed, pending or failed.")
    confirmed_at: datetime | None = None


class CertificateClaims(_Claims):
    """The signed payload. `sub` is the service's internal subject id; `jti` the certificate id."""

    iss: str
    sub: str
    jti: str
    iat: int
    request_id: str
    jurisdiction: str
    received_at: datetime
    completed_at: datetime
    deleted: list[str] = Field(description="Data categories destroyed (crypto-shredded).")
    kept: list[KeptItem]
    consents_withdrawn: int
    downstream: list[DownstreamConfirmation]
    models_flagged: int
    backups_unreadable_by: str | None = Field(
        default=None,
        description="ISO date (UTC) by the end of which nothing of the person decrypts from any database backup: "
        "the master-key version that wrapped their key is destroyed by then. Null when the key provider is "
        "rotated by the operator rather than by the service.",
    )
    tombstone: str = Field(description="What remains: the subject id, erasure date and this audit trail.")


def key_id(public_key: Ed25519PublicKey) -> str:
    """The RFC 7638 thumbprint of the public key, used as `kid`."""
    return OKPKey.import_key(public_key).thumbprint()


def jwks(public_keys: Iterable[Ed25519PublicKey]) -> dict[str, Any]:
    """A JSON Web Key Set publishing the verification keys (for auditors and subjects)."""
    keys = []
    for public in public_keys:
        jwk = OKPKey.import_key(public).as_dict(private=False)
        jwk.update({"kid": key_id(public), "use": "sig", "alg": "Ed25519"})
        keys.append(jwk)
    return {"keys": keys}


def sign_certificate(claims: CertificateClaims, private_key: Ed25519PrivateKey) -> str:
    """The compact JWS of `claims`, signed with `private_key`."""
    header = {"alg": "Ed25519", "typ": CERTIFICATE_TYPE, "kid": key_id(private_key.public_key())}
    payload = json.dumps(claims.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()
    return jws.serialize_compact(header, payload, OKPKey.import_key(private_key), algorithms=_ALGORITHMS)


def verify_certificate(token: str, public_keys: Iterable[Ed25519PublicKey]) -> CertificateClaims:
    """Verify signature (by the key whose `kid` matches) and claims; raises `CertificateInvalidError`."""
    by_kid = {key_id(key): key for key in public_keys}
    try:
        header = jws.extract_compact(token.encode()).protected
        key = by_kid.get(str(header.get("kid")))
        if key is None or header.get("typ") != CERTIFICATE_TYPE:
            raise CertificateInvalidError()
        verified = jws.deserialize_compact(token, OKPKey.import_key(key), algorithms=_ALGORITHMS)
        return CertificateClaims.model_validate_json(verified.payload)
    except (JoseError, ValueError, ValidationError) as exc:
        raise CertificateInvalidError() from exc


def build_claims(
    *,
    issuer: str,
    certificate_id: uuid.UUID,
    request_id: uuid.UUID,
    subject_id: uuid.UUID,
    jurisdiction: str,
    received_at: datetime,
    completed_at: datetime,
    deleted: Iterable[str],
    kept: Iterable[Mapping[str, Any]],
    consents_withdrawn: int,
    downstream: Iterable[Mapping[str, Any]],
    models_flagged: int,
    backups_unreadable_by: str | None = None,
) -> CertificateClaims:
    """The claims in canonical order (sorted lists): re-issuing after a crash signs the same content."""
    return CertificateClaims(
        iss=issuer,
        sub=str(subject_id),
        jti=str(certificate_id),
        iat=int(completed_at.astimezone(UTC).timestamp()),
        request_id=str(request_id),
        jurisdiction=jurisdiction,
        received_at=received_at,
        completed_at=completed_at,
        deleted=sorted(set(deleted)),
        kept=sorted((KeptItem.model_validate(dict(k)) for k in kept), key=lambda k: k.category),
        consents_withdrawn=consents_withdrawn,
        downstream=sorted(
            (DownstreamConfirmation.model_validate(dict(d)) for d in downstream), key=lambda d: d.processor
        ),
        models_flagged=models_flagged,
        backups_unreadable_by=backups_unreadable_by,
        tombstone="The subject id, the erasure date and the audit trail of this request are kept as proof.",
    )
