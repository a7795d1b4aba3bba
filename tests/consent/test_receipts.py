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
