"""Consent receipts: JSON following ISO/IEC TS 27560 and the Kantara Consent Receipt v1.1, signed as JWS.

A receipt is issued for every recorded ledger event. It names the record, a pseudonymous subject identifier
(the service's internal subject id; never an email or the product's own user reference), the controller, the
purpose with its categories and legal basis, the notice version and its hash, the method, the times and the
jurisdiction. It is signed with Ed25519 (JWS alg `Ed25519`, RFC 9864: the fully specified successor of
`EdDSA`) so that anyone holding the service's public key can check it offline. Field mapping: docs/consent.md.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from governance import jsoncodec
from governance.consent.policy import Controller, Purpose

RECEIPT_SCHEMA = "urn:governance:consent-receipt:1"
RECEIPT_STANDARDS = ("ISO/IEC TS 27560:2023", "Kantara Consent Receipt v1.1")
JWS_ALGORITHM = "Ed25519"
JWS_TYPE = "consent-receipt+jws"

# ISO/IEC TS 27560 event types for the ledger decisions
_EVENT_TYPES = {
    "granted": "given",
    "withdrawn": "withdrawn",
    "expired": "expired",
    "objected": "objected",
    "objection_lifted": "objection_withdrawn",
}


class InvalidReceiptError(ValueError):
    """A receipt's signature does not verify, its key is unknown, or it is not a consent receipt."""


@dataclass(frozen=True, slots=True)
class ReceiptFacts:
    """What a receipt states about one ledger event."""

    record_id: uuid.UUID
    subject_id: uuid.UUID
    purpose: Purpose
    decision: str
    notice_version: int
    notice_sha256: str
    method: str
    jurisdiction: str
    collected_at: dt.datetime
    recorded_at: dt.datetime
    actor_kind: str
    superseded: bool = False
    language: str = "en"


def _iso(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def build_receipt(facts: ReceiptFacts, controller: Controller, *, issued_at: dt.datetime) -> dict[str, Any]:
    """The receipt body (unsigned). Deterministic for the same facts, controller and issue time."""
    purpose = facts.purpose
    notice_id = f"{purpose.key}:v{facts.notice_version}"
    notice_url = (
        f"{controller.notice_base_url}/{purpose.key}/v{facts.notice_version}"
        if (controller.notice_base_url)
        else controller.policy_url
    )
    termination = "withdrawal at any time through the privacy dashboard or the product"
    if purpose.max_consent_age_days:
        termination += f"; expires {purpose.max_consent_age_days} days after it was given"
    return {
        "schema": RECEIPT_SCHEMA,
        "standards": list(RECEIPT_STANDARDS),
        "version": "KI-CR-v1.1.0",
        "record_id": str(facts.record_id),
        "receipt_issued_at": _iso(issued_at),
        "pii_principal_id": f"urn:uuid:{facts.subject_id}",
        "pii_controllers": [
            {
                "name": controller.name,
                "contact": controller.contact,
                "email": controller.email,
                "address": controller.address,
                "url": controller.policy_url,
                "on_behalf": False,
            }
        ],
        "policy_url": controller.policy_url,
        "jurisdiction": facts.jurisdiction,
        "language": facts.language,
        "notice": {
            "notice_id": notice_id,
            "version": facts.notice_version,
            "sha256": facts.notice_sha256,
            "url": notice_url,
        },
        "event": {
            "type": _EVENT_TYPES.get(facts.decision, facts.decision),
            "decision": facts.decision,
            "time": _iso(facts.collected_at),
            "recorded_at": _iso(facts.recorded_at),
            "superseded": facts.superseded,
        },
        "collection_method": facts.method,
        "actor_kind": facts.actor_kind,
        "purposes": [
            {
                "purpose_id": purpose.key,
                "purpose": purpose.title,
                "description": purpose.description,
                "lawful_basis": purpose.legal_basis.value,
                "consent_type": "explicit" if purpose.requires_consent else "not_applicable",
                "pii_categories": sorted(purpose.profile_fields) + sorted(purpose.event_categories),
                "primary_purpose": False,
                "storage_duration_days": purpose.retention_days,
                "termination": termination,
                "third_party_disclosure": purpose.sale_or_sharing,
            }
        ],
        "sensitive": False,
    }


def canonical_json(payload: Mapping[str, Any]) -> bytes:
    """Sorted keys, no insignificant whitespace: the signed bytes are reproducible from the JSON."""
    return jsoncodec.canonical_bytes(payload)


def sign_receipt(receipt: Mapping[str, Any], key: OKPKey, *, kid: str) -> str:
    """Compact JWS over the canonical JSON of `receipt`, signed with the service's Ed25519 key."""
    header = {"alg": JWS_ALGORITHM, "kid": kid, "typ": JWS_TYPE, "cty": "application/json"}
    return jws.serialize_compact(header, canonical_json(receipt), key, algorithms=[JWS_ALGORITHM])


def sign_receipts(receipts: Sequence[Mapping[str, Any]], key: Ed25519PrivateKey, *, kid: str) -> list[str]:
    """`sign_receipt` for the receipts of one request in one pass: the protected header is encoded once and
    each body is signed straight with the Ed25519 key (the same compact JWS `verify_receipt` checks)."""
    header = {"alg": JWS_ALGORITHM, "kid": kid, "typ": JWS_TYPE, "cty": "application/json"}
    prefix = _b64(json.dumps(header, separators=(",", ":")).encode()) + b"."
    tokens = []
    for receipt in receipts:
        signing_input = prefix + _b64(canonical_json(receipt))
        tokens.append((signing_input + b"." + _b64(key.sign(signing_input))).decode("ascii"))
    return tokens


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def verify_receipt(token: str, public_keys: Mapping[str, OKPKey]) -> dict[str, Any]:
    """Check a receipt's signature with the public key named by its `kid`; return the receipt body.

    Raises InvalidReceiptError when the token is malformed, the key is unknown, the signature fails, or the
    body is not a consent receipt.
    """
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 64_000:
        raise InvalidReceiptError("not a compact JWS")
    try:
        header = jws.extract_compact(token.encode("ascii")).protected
    except (JoseError, ValueError, UnicodeError) as exc:
        raise InvalidReceiptError("not a compact JWS") from exc
    key = public_keys.get(str(header.get("kid", "")))
    if key is None:
        raise InvalidReceiptError("signed with an unknown key")
    if header.get("alg") != JWS_ALGORITHM:
        raise InvalidReceiptError("unexpected signature algorithm")
    try:
        verified = jws.deserialize_compact(token, key, algorithms=[JWS_ALGORITHM])
        body = json.loads(verified.payload)
    except (JoseError, ValueError) as exc:
        raise InvalidReceiptError("signature does not verify") from exc
    if not isinstance(body, dict) or body.get("schema") != RECEIPT_SCHEMA:
        raise InvalidReceiptError("not a consent receipt")
    return body


def key_id(key: OKPKey) -> str:
    """A stable key id: the RFC 7638 thumbprint of the public key."""
    return key.thumbprint()


def public_jwk(key: OKPKey) -> dict[str, Any]:
    """The public half as a JWK (what the verify endpoint and offline verifiers use)."""
    jwk = dict(key.as_dict(private=False))
    jwk.update({"kid": key_id(key), "alg": JWS_ALGORITHM, "use": "sig"})
    return jwk
