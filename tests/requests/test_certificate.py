"""Signed erasure certificates (JWS, Ed25519)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws
from joserfc.jwk import OKPKey

from governance.requests.certificate import (
    CERTIFICATE_TYPE,
    build_claims,
    jwks,
    key_id,
    sign_certificate,
    verify_certificate,
)
from governance.requests.errors import CertificateInvalidError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _claims(**overrides):
    values = {
        "issuer": "https://privacy.example",
        "certificate_id": uuid.uuid4(),
        "request_id": uuid.uuid4(),
        "subject_id": uuid.uuid4(),
        "jurisdiction": "GDPR",
        "received_at": NOW,
        "completed_at": NOW,
        "deleted": ["profile", "events:clicks", "profile"],
        "kept": [
            {
                "category": "billing",
                "basis": "legal_obligation",
                "reason": "Tax law: 10 years.",
                "retain_until": "2036-03-01",
            }
        ],
        "consents_withdrawn": 3,
        "downstream": [
            {"processor": "crm", "status": "confirmed", "confirmed_at": NOW},
            {"processor": "analytics", "status": "pending"},
        ],
        "models_flagged": 2,
    }
    values.update(overrides)
    return build_claims(**values)


def test_certificate_roundtrip_and_canonical_content() -> None:
    key = Ed25519PrivateKey.generate()
    claims = _claims()
    token = sign_certificate(claims, key)
    verified = verify_certificate(token, [Ed25519PrivateKey.generate().public_key(), key.public_key()])
    assert verified == claims
    assert verified.deleted == ["events:clicks", "profile"]  # sorted, deduplicated
    assert [d.processor for d in verified.downstream] == ["analytics", "crm"]
    assert verified.kept[0].reason == "Tax law: 10 years."
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "Ed25519", "typ": CERTIFICATE_TYPE, "kid": key_id(key.public_key())}


def test_same_claims_sign_to_the_same_token() -> None:
    # Ed25519 is deterministic and claims canonical: re-issuing after a crash gives the same certificate
    key, claims = Ed25519PrivateKey.generate(), _claims()
    assert sign_certificate(claims, key) == sign_certificate(claims, key)


def test_certificate_verifies_with_the_published_jwks_alone() -> None:
    key = Ed25519PrivateKey.generate()
    token = sign_certificate(_claims(), key)
    published = jwks([key.public_key()])["keys"][0]
    assert published["kid"] == key_id(key.public_key())
    assert "d" not in published
    result = jws.deserialize_compact(token, OKPKey.import_key(published), algorithms=["Ed25519"])
    assert json.loads(result.payload)["models_flagged"] == 2


def test_forged_or_altered_certificates_fail() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    token = sign_certificate(_claims(), key)
    header, payload, signature = token.split(".")
    altered = json.loads(base64.urlsafe_b64decode(payload + "=="))
    altered["models_flagged"] = 0
    forged_payload = base64.urlsafe_b64encode(json.dumps(altered).encode()).rstrip(b"=").decode()
    for bad in (
        f"{header}.{forged_payload}.{signature}",
        sign_certificate(_claims(), other),  # unknown kid
        token[:-4] + "AAAA",
        "not-a-jws",
        "",
    ):
        with pytest.raises(CertificateInvalidError):
            verify_certificate(bad, [key.public_key()])


def test_a_jws_of_another_type_is_not_a_certificate() -> None:
    key = Ed25519PrivateKey.generate()
    header = {"alg": "Ed25519", "typ": "JWT", "kid": key_id(key.public_key())}
    payload = json.dumps(_claims().model_dump(mode="json")).encode()
    token = jws.serialize_compact(header, payload, OKPKey.import_key(key), algorithms=["Ed25519"])
    with pytest.raises(CertificateInvalidError):
        verify_certificate(token, [key.public_key()])
