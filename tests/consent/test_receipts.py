"""Consent receipts: ISO/IEC TS 27560 / Kantara CR fields, an Ed25519 JWS anyone can verify."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
from joserfc.jwk import OKPKey

from governance.consent.policy import load_catalog
from governance.consent.receipts import (
    InvalidReceiptError,
    ReceiptFacts,
    build_receipt,
    key_id,
    public_jwk,
    sign_receipt,
    verify_receipt,
)

POLICIES = Path(__file__).resolve().parents[2] / "policies"
T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def receipt() -> dict:
    catalog = load_catalog(POLICIES / "purposes.yaml")
    purpose = catalog["partner_sharing"]
    facts = ReceiptFacts(
        record_id=uuid.UUID(int=7),
        subject_id=uuid.UUID(int=42),
        purpose=purpose,
        decision="granted",
        notice_version=1,
        notice_sha256=purpose.notices[0].sha256,
        method="api",
        jurisdiction="US-CA",
        collected_at=T0,
        recorded_at=T0 + dt.timedelta(seconds=2),
        actor_kind="client",
    )
    return build_receipt(facts, catalog.controller, issued_at=T0 + dt.timedelta(seconds=2))


@pytest.fixture(scope="module")
def key() -> OKPKey:
    return OKPKey.generate_key("Ed25519")


def test_receipt_has_the_standard_fields(receipt: dict) -> None:
    assert receipt["record_id"] == str(uuid.UUID(int=7))
    assert receipt["pii_principal_id"] == f"urn:uuid:{uuid.UUID(int=42)}"
    assert receipt["pii_controllers"][0]["name"]
    assert receipt["jurisdiction"] == "US-CA"
    assert receipt["collection_method"] == "api"
    assert receipt["event"] == {
        "type": "given",
        "decision": "granted",
        "time": "2025-03-01T12:00:00.000000Z",
        "recorded_at": "2025-03-01T12:00:02.000000Z",
        "superseded": False,
    }
    assert receipt["notice"]["notice_id"] == "partner_sharing:v1"
    assert len(receipt["notice"]["sha256"]) == 64
    (purpose,) = receipt["purposes"]
    assert purpose["purpose_id"] == "partner_sharing"
    assert purpose["lawful_basis"] == "consent"
    assert purpose["third_party_disclosure"] is True
    assert {"country", "postal_code", "birth_date", "purchase", "view"} == set(purpose["pii_categories"])
    assert "365 days" in purpose["termination"]


def test_signed_receipt_verifies_with_the_public_key_only(receipt: dict, key: OKPKey) -> None:
    token = sign_receipt(receipt, key, kid=key_id(key))
    public = OKPKey.import_key(public_jwk(key))
    assert verify_receipt(token, {key_id(key): public}) == receipt


def test_tampered_receipt_fails(receipt: dict, key: OKPKey) -> None:
    token = sign_receipt(receipt, key, kid=key_id(key))
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["event"]["decision"] = "withdrawn"
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    with pytest.raises(InvalidReceiptError, match="does not verify"):
        verify_receipt(f"{header}.{forged}.{signature}", {key_id(key): key})


def test_other_key_or_garbage_fails(receipt: dict, key: OKPKey) -> None:
    other = OKPKey.generate_key("Ed25519")
    token = sign_receipt(receipt, other, kid=key_id(key))  # claims our kid
    with pytest.raises(InvalidReceiptError, match="does not verify"):
        verify_receipt(token, {key_id(key): key})
    with pytest.raises(InvalidReceiptError, match="unknown key"):
        verify_receipt(sign_receipt(receipt, other, kid=key_id(other)), {key_id(key): key})
    for garbage in ["", "a.b", "a.b.c", "ÿ.ÿ.ÿ", "x" * 70_000]:
        with pytest.raises(InvalidReceiptError):
            verify_receipt(garbage, {key_id(key): key})


def _kid_of(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def test_receipts_stay_verifiable_after_the_signing_key_rotates(app, make_app, client, bearer, make_subject) -> None:
    """Receipts name their key (kid = RFC 7638 thumbprint); every key that signed is kept and published, so a
    receipt signed before a rotation still verifies through the API, the JWK Set and `receipts`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    headers = bearer(["consents:write", "consents:read"])
    subject = make_subject()

    def grant(test_client, purpose: str) -> str:
        response = test_client.post(
            f"/api/v1/subjects/{subject}/consents",
            json={"decisions": [{"purpose": purpose, "decision": "granted"}]},
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()["receipts"][0]["jws"]

    old_jws = grant(client, "personalized_recommendations")
    old_kid = _kid_of(old_jws)
    old_jwks = client.get("/api/v1/consents/receipts/keys").get_json()
    assert [k["kid"] for k in old_jwks["keys"]] == [old_kid]
    assert key_id(OKPKey.import_key(old_jwks["keys"][0])) == old_kid

    # The operator rotates the key: a new process starts with another private key and the same database.
    new_private = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    rotated = make_app(KEY_CONSENT_RECEIPTS=base64.b64encode(new_private).decode())
    rotated_client = rotated.test_client()
    new_jws = grant(rotated_client, "chat_personalization")
    new_kid = _kid_of(new_jws)
    assert new_kid != old_kid

    jwks = rotated_client.get("/api/v1/consents/receipts/keys").get_json()
    assert [k["kid"] for k in jwks["keys"]] == [new_kid, old_kid]  # the signing key first, then retired ones
    assert all(set(k) >= {"kty", "crv", "x", "kid", "alg"} and "d" not in k for k in jwks["keys"])
    offline = {k["kid"]: OKPKey.import_key(k) for k in jwks["keys"]}
    for token in (old_jws, new_jws):
        assert verify_receipt(token, offline)["record_id"]  # anyone holding the JWK Set can check both
        verified = rotated_client.post("/api/v1/consents/receipts/verify", json={"jws": token}, headers=headers)
        assert verified.get_json() | {"receipt": None} == {
            "valid": True, "in_ledger": True, "current": True, "receipt": None,
        }, verified.get_json()  # fmt: skip
    listed = rotated_client.get(f"/api/v1/subjects/{subject}/consents/receipts", headers=headers).get_json()
    assert [_kid_of(r["jws"]) for r in listed["receipts"]] == [old_kid, new_kid]

    # A receipt under a retired kid but signed by some other key is refused, as is an unknown kid.
    forged_key = OKPKey.generate_key("Ed25519")
    forged = sign_receipt(verify_receipt(old_jws, offline), forged_key, kid=old_kid)
    unknown = sign_receipt(verify_receipt(old_jws, offline), forged_key, kid=key_id(forged_key))
    for token in (forged, unknown):
        refused = rotated_client.post("/api/v1/consents/receipts/verify", json={"jws": token}, headers=headers)
        assert refused.get_json()["valid"] is False


def test_rotate_receipt_key_command(app, make_app, tmp_path, make_subject) -> None:
    """`governance consent rotate-receipt-key` replaces the key file; receipts of the old key keep verifying."""
    from governance.consent import service
    from tests.consent.conftest import PRODUCT

    subject = make_subject()

    def grant_with(an_app, purpose: str) -> str:
        with an_app.app_context():
            session = an_app.extensions["governance.db"].session()
            try:
                (issued,) = service.record_decisions(session, subject, [{"purpose": purpose, "decision": "granted"}],
                                                     method="api", actor=PRODUCT, jurisdiction="EU")  # fmt: skip
                session.commit()
                return issued.jws
            finally:
                session.close()

    before = make_app(KEY_DIR=str(tmp_path))
    old_jws = grant_with(before, "personalized_recommendations")
    result = before.test_cli_runner().invoke(args=["governance", "consent", "rotate-receipt-key"])
    assert result.exit_code == 0, result.output
    old_kid, new_kid = _kid_of(old_jws), result.output.split(": ")[1].split(" -> ")[1].split()[0]
    assert old_kid in result.output
    assert new_kid != old_kid

    after = make_app(KEY_DIR=str(tmp_path))  # a restarted process reads the new key file
    new_jws = grant_with(after, "chat_personalization")
    assert _kid_of(new_jws) == new_kid
    with after.app_context():
        session = after.extensions["governance.db"].session()
        try:
            assert [k["kid"] for k in service.public_jwks(session)["keys"]] == [new_kid, old_kid]
            for token in (old_jws, new_jws):
                assert service.verify_receipt_token(session, token)["in_ledger"] is True
        finally:
            session.close()
    listing = after.test_cli_runner().invoke(args=["governance", "consent", "receipt-keys"])
    assert listing.output.splitlines() == [f"{new_kid}  signing", f"{old_kid}  retired (verify only)"]

    from_env = make_app(KEY_DIR=str(tmp_path), KEY_CONSENT_RECEIPTS="c2VjcmV0")
    refused = from_env.test_cli_runner().invoke(args=["governance", "consent", "rotate-receipt-key"])
    assert refused.exit_code != 0
    assert "GOVERNANCE_KEY_CONSENT_RECEIPTS" in refused.output
    assert "c2VjcmV0" not in refused.output
