"""Consent records as ISO/IEC TS 27560 JSON-LD with the W3C DPV vocabulary: the document expands with pyld
against the context the service ships (no network), every DPV term it uses exists in DPV 2.3, and the records say
what the ledger says (status, notice version and hash, receipt ids, times); only the person, staff with
consent.read and clients with consents:read may read them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pyld import jsonld

from governance.access.principals import Principal
from governance.consent.iso27560 import CONTEXT_FILE, CONTEXT_PATH, context_document

DPV = "https://w3id.org/dpv#"
DCT = "http://purl.org/dc/terms/"
TERMS = Path(__file__).parents[1] / "fixtures" / "dpv" / "dpv-2.3-terms.txt"
RECS, SHARING, ANALYTICS = "personalized_recommendations", "partner_sharing", "product_analytics"


def dpv_terms() -> set[str]:
    return {line.strip() for line in TERMS.read_text().splitlines() if line.startswith("https://")}


def expand(document: dict[str, Any], base: str) -> list[dict[str, Any]]:
    """pyld expansion whose only document is the context the service ships: any other URL fails the test."""
    shipped = CONTEXT_FILE.read_text()

    def loader(url: str, options: dict | None = None) -> dict[str, Any]:
        assert url == f"{base}{CONTEXT_PATH}", url
        return {"contextUrl": None, "documentUrl": url, "document": jsonld.json.loads(shipped)}

    return jsonld.expand(document, {"documentLoader": loader})


def iris(node: Any) -> set[str]:
    """Every IRI of an expanded document: property names, types and node references."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= iris(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if not key.startswith("@"):
                found.add(key)
            if key == "@type":
                found |= set(value if isinstance(value, list) else [value])
            elif key == "@id" and isinstance(value, str):
                found.add(value)
            else:
                found |= iris(value)
    return found


def decide(app: Flask, subject: uuid.UUID, purpose: str, decision: str) -> None:
    from governance.consent import service as consent

    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        try:
            with session.begin():
                consent.record_decisions(
                    session,
                    subject,
                    [{"purpose": purpose, "decision": decision}],
                    method="api",
                    actor=Principal.system("tests"),
                    jurisdiction="US-CA",
                )
        finally:
            session.close()


@pytest.fixture
def decided(app: Flask, make_subject) -> uuid.UUID:  # type: ignore[no-untyped-def]
    subject = make_subject()
    decide(app, subject, RECS, "granted")
    decide(app, subject, RECS, "withdrawn")
    decide(app, subject, SHARING, "granted")
    return subject


def export(client: FlaskClient, subject: uuid.UUID | str, headers: dict[str, str] | None = None) -> Any:
    return client.get(f"/api/v1/subjects/{subject}/consents/iso27560", headers=headers or {})


def by_type(expanded: list[dict[str, Any]], iri: str) -> list[dict[str, Any]]:
    nodes = expanded[0].get("@graph", expanded)
    return [n for n in nodes if iri in n.get("@type", [])]


def test_records_expand_with_the_shipped_context_and_use_only_dpv_terms(
    app: Flask, client: FlaskClient, decided, bearer
) -> None:  # type: ignore[no-untyped-def]
    response = export(client, decided, bearer(["consents:read"]))
    assert response.status_code == 200
    assert response.mimetype == "application/ld+json"
    document = response.get_json(force=True)
    base = app.extensions["governance.settings"].base_url.rstrip("/")
    assert document["@context"] == f"{base}{CONTEXT_PATH}"
    expanded = expand(document, base)
    used = {iri for iri in iris(expanded) if iri.startswith(DPV)}
    assert used - dpv_terms() == set(), "DPV terms that do not exist in DPV 2.3"
    expected = {
        f"{DPV}{t}"
        for t in (
            "ConsentRecord", "ConsentReceipt", "hasDataSubject", "DataSubject", "hasDataController", "DataController",
            "hasPurpose", "ProvidePersonalisedRecommendations", "PersonalisedAdvertising", "hasLegalBasis",
            "ExpressedConsent", "hasNotice", "ConsentNotice", "hasConsentStatus", "ConsentGiven", "ConsentWithdrawn",
            "isIndicatedAtTime", "isIndicatedBy", "hasJurisdiction", "hasName",
        )
    }  # fmt: skip
    assert expected <= used
    # nothing was dropped in expansion: every key of every record is a mapped IRI
    for record in document["@graph"]:
        node = next(n for n in by_type(expanded, f"{DPV}ConsentRecord") if n["@id"] == record["@id"])
        assert len([k for k in record if not k.startswith("@")]) == len([k for k in node if not k.startswith("@")])


def test_records_say_what_the_ledger_says(app: Flask, client: FlaskClient, decided, bearer) -> None:  # type: ignore[no-untyped-def]
    from governance.consent import service as consent

    reader = bearer(["consents:read"])
    document = export(client, decided, reader).get_json(force=True)
    records = {r["dpv:hasPurpose"]["dct:identifier"]: r for r in document["@graph"]}
    assert set(records) == {RECS, SHARING}  # decided purposes only
    recs, sharing = records[RECS], records[SHARING]
    assert recs["dpv:hasConsentStatus"]["@type"] == "dpv:ConsentWithdrawn"
    assert sharing["dpv:hasConsentStatus"]["@type"] == "dpv:ConsentGiven"
    assert recs["dct:conformsTo"] == "https://w3id.org/dpv/schema/dpv-27560#record"
    assert recs["dpv:hasDataSubject"]["@id"] == f"urn:uuid:{decided}"
    assert recs["dpv:hasLegalBasis"] == "dpv:ExpressedConsent"
    assert "dpv:ProvidePersonalisedRecommendations" in recs["dpv:hasPurpose"]["@type"]
    with app.app_context():
        purpose = consent.purposes()[RECS]
    notice = purpose.current_notice
    assert recs["dpv:hasNotice"]["dct:identifier"] == [f"{RECS}:v{notice.version}", f"sha256:{notice.sha256}"]
    receipts = client.get(f"/api/v1/subjects/{decided}/consents/receipts", headers=reader).get_json()["receipts"]
    receipt_ids = {r["record_id"] for r in receipts}
    exported = {part["dct:identifier"] for r in records.values() for part in r["dct:hasPart"]}
    assert exported == receipt_ids
    assert [p["dpv:hasConsentStatus"]["@type"] for p in recs["dct:hasPart"]] == [
        "dpv:ConsentGiven",
        "dpv:ConsentWithdrawn",
    ]
    history = client.get(f"/api/v1/subjects/{decided}/consents/history", headers=reader).get_json()["events"]
    withdrawal = next(e for e in history if e["purpose"] == RECS and e["decision"] == "withdrawn")
    assert recs["dct:modified"].replace("Z", "+00:00")[:19] == withdrawal["recorded_at"].replace(" ", "T")[:19]
    assert recs["dpv:hasJurisdiction"] == "urn:governance:jurisdiction:US-CA"
    # the record id is stable: the same on a second export
    again = export(client, decided, reader).get_json(force=True)
    assert {r["@id"] for r in again["@graph"]} == {r["@id"] for r in document["@graph"]}


def test_every_purpose_maps_to_an_existing_dpv_purpose(app: Flask) -> None:
    from governance.consent import service as consent

    with app.app_context():
        mapped = {p.key: p.dpv_purpose for p in consent.purposes()}
    assert None not in mapped.values(), mapped
    terms = dpv_terms()
    assert {f"{DPV}{t}" for t in mapped.values()} <= terms
    assert len(set(mapped.values())) == len(mapped)  # each purpose its own class


def test_who_may_read_the_records(app: Flask, decided, bearer, login_subject, login_staff, make_subject) -> None:  # type: ignore[no-untyped-def]
    own = app.test_client()
    login_subject(own, decided)
    assert export(own, decided).status_code == 200
    stranger = app.test_client()
    login_subject(stranger, make_subject())
    assert export(stranger, decided).status_code == 404
    for role, status in (("dpo", 200), ("support", 200), ("auditor", 200), ("admin", 403)):
        staff = app.test_client()
        login_staff(staff, role)
        assert export(staff, decided).status_code == status, role
    client = app.test_client()
    assert export(client, decided).status_code == 401
    assert export(client, decided, bearer(["events:write", "consents:write"])).status_code == 403


def test_unknown_malformed_and_empty(client: FlaskClient, bearer, make_subject) -> None:  # type: ignore[no-untyped-def]
    reader = bearer(["consents:read"])
    unknown = export(client, uuid.uuid4(), reader)
    assert unknown.status_code == 404
    assert unknown.get_json()["error"]
    malformed = export(client, "jane.probe@example.com", reader)
    assert malformed.status_code == 422  # the path model refuses it, as on every subject route
    assert malformed.get_json()["error"] == "validation_failed"
    assert "jane.probe" not in malformed.get_data(as_text=True)
    fresh = export(client, make_subject(), reader).get_json(force=True)
    assert fresh["@graph"] == []


def test_the_context_document_is_served_as_shipped(client: FlaskClient) -> None:
    response = client.get(CONTEXT_PATH)
    assert response.status_code == 200
    assert response.mimetype == "application/ld+json"
    assert response.get_json(force=True) == context_document()
    assert context_document()["@context"]["dpv"] == DPV
    assert context_document()["@context"]["dct"] == DCT
