"""Consent records as ISO/IEC TS 27560 records in JSON-LD with the W3C Data Privacy Vocabulary (DPV).

`GET /api/v1/subjects/<id>/consents/iso27560` (action `consent.read`: the person themself, dpo/support/auditor,
clients with `consents:read`) answers `application/ld+json`: one `dpv:ConsentRecord` per consent-basis purpose the
person has decided on, following the DPVCG profile `https://w3id.org/dpv/schema/dpv-27560#record` (guide
"Consent Records and Receipts as per ISO/IEC TS 27560:2023 using DPV"). Per record:

- metadata: `dct:identifier` (a stable UUID per subject and purpose), `dct:conformsTo` the profile,
  `dpv:hasDataSubject` the pseudonymous `urn:uuid:<subject id>` (the receipts' `pii_principal_id`), `dct:created` /
  `dct:modified` (first and last recorded event), `dpv:hasDataController` (name from policies/purposes.yaml);
- processing: `dpv:hasPurpose` an instance of the purpose's DPV class (`dpv_purpose` in policies/purposes.yaml,
  e.g. `dpv:ProvidePersonalisedRecommendations`), `dpv:hasLegalBasis` (`dpv:ExpressedConsent`: given by an
  affirmative act after the notice), `dpv:hasJurisdiction`;
- notice: `dpv:hasNotice` a `dpv:ConsentNotice` with its version, `dct:language`, `dct:date` (published) and its
  SHA-256 as `dct:identifier` `sha256:<hex>`;
- state: `dpv:hasConsentStatus` (`dpv:ConsentGiven`, `dpv:ConsentWithdrawn`, `dpv:ConsentExpired`,
  `dpv:ConsentInvalidated` when a material notice change needs renewed consent, `dpv:ConsentRefused` after an
  objection) with `dpv:isIndicatedAtTime` and `dpv:isIndicatedBy`;
- events: `dct:hasPart`, one `dpv:ConsentReceipt` per ledger event, `dct:identifier` = the signed receipt's
  `record_id`, its status, notice version, times and whether it was superseded.

The `@context` is the document this module ships (`contexts/dpv-27560.jsonld`), served publicly at
`/api/v1/consents/iso27560/context.jsonld`, so a consumer expands records without other network access.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from flask import Response, current_app
from pydantic import BaseModel

from governance.access.decorators import public, requires
from governance.api import api_blueprint
from governance.consent import service
from governance.consent.api import _subject_resource  # the consent API's one factory for subject routes
from governance.db import get_session, transaction

bp = api_blueprint("consent_iso27560", tag="standards")
CONTEXT_FILE = Path(__file__).with_name("contexts") / "dpv-27560.jsonld"
CONTEXT_PATH = "/api/v1/consents/iso27560/context.jsonld"
PROFILE = "https://w3id.org/dpv/schema/dpv-27560#record"
RECEIPT_PROFILE = "https://w3id.org/dpv/schema/dpv-27560#receipt-record"
MEDIA_TYPE = "application/ld+json"
# uuid5 namespace of record identifiers: one stable record per (subject, purpose)
RECORD_NAMESPACE = uuid.UUID("5b0c2b7e-6a1f-4f53-9d55-27560a0d0001")

LEGAL_BASIS = {
    "consent": "dpv:ExpressedConsent",
    "legitimate_interest": "dpv:LegitimateInterest",
    "contract": "dpv:Contract",
    "legal_obligation": "dpv:LegalObligation",
}
# ledger decision -> DPV consent status of that event
EVENT_STATUS = {
    "granted": "dpv:ConsentGiven",
    "withdrawn": "dpv:ConsentWithdrawn",
    "expired": "dpv:ConsentExpired",
    "objected": "dpv:ConsentRefused",
    "objection_lifted": "dpv:ConsentGiven",
}
# is_permitted reason of the state in force -> DPV consent status of the record
STATE_STATUS = {
    "granted": "dpv:ConsentGiven",
    "withdrawn": "dpv:ConsentWithdrawn",
    "expired": "dpv:ConsentExpired",
    "needs_renewal": "dpv:ConsentInvalidated",
    "objected": "dpv:ConsentRefused",
}


class SubjectPath(BaseModel):
    subject_id: uuid.UUID


@cache
def context_document() -> dict[str, Any]:
    return json.loads(CONTEXT_FILE.read_text())


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _notice(purpose: Any, version: int, base: str) -> dict[str, Any]:
    notice = next((n for n in purpose.notices if n.version == version), purpose.current_notice)
    return {
        "@id": f"{base}/api/v1/purposes/{purpose.key}/notices/{notice.version}",
        "@type": "dpv:ConsentNotice",
        "dct:identifier": [notice.notice_id(purpose.key), f"sha256:{notice.sha256}"],
        "dct:language": notice.language,
        "dct:date": notice.published.isoformat(),
    }


def records(session: Any, subject_id: uuid.UUID, *, base: str) -> dict[str, Any]:
    """The JSON-LD document of the subject's consent records (nothing is written)."""
    service.subject_exists(session, subject_id)
    catalog = service.purposes()
    events = service.history(session, subject_id)
    statuses = {s.purpose: s for s in service.overview(session, subject_id)}
    subject_iri = f"urn:uuid:{subject_id}"
    graph = []
    for purpose in catalog:
        own = [e for e in events if e.purpose == purpose.key]
        if not own or not purpose.requires_consent:  # a consent record is about consent; objections live elsewhere
            continue
        state = statuses[purpose.key]
        in_force = next((e for e in reversed(own) if not e.superseded), own[-1])
        record_id = uuid.uuid5(RECORD_NAMESPACE, f"{subject_id}/{purpose.key}")
        graph.append(
            {
                "@id": f"urn:uuid:{record_id}",
                "@type": "dpv:ConsentRecord",
                "dct:identifier": str(record_id),
                "dct:conformsTo": PROFILE,
                "dct:created": _time(own[0].recorded_at),
                "dct:modified": _time(own[-1].recorded_at),
                "dpv:hasDataSubject": {"@id": subject_iri, "@type": "dpv:DataSubject"},
                "dpv:hasDataController": {"@type": "dpv:DataController", "dpv:hasName": catalog.controller.name},
                "dpv:hasPurpose": {
                    "@type": ["dpv:Purpose", f"dpv:{purpose.dpv_purpose or 'Purpose'}"],
                    "dct:identifier": purpose.key,
                    "dct:title": purpose.title,
                },
                "dpv:hasLegalBasis": LEGAL_BASIS[purpose.legal_basis.value],
                "dpv:hasJurisdiction": f"urn:governance:jurisdiction:{in_force.jurisdiction}",
                "dpv:hasNotice": _notice(purpose, in_force.notice_version, base),
                "dpv:hasConsentStatus": {
                    "@type": STATE_STATUS.get(state.reason, "dpv:ConsentUnknown"),
                    "dpv:isIndicatedAtTime": _time(state.decided_at),
                    "dpv:isIndicatedBy": subject_iri,
                },
                "dct:hasPart": [_event(e, purpose, base) for e in own],
            }
        )
    return {"@context": f"{base}{CONTEXT_PATH}", "@graph": graph}


def _event(event: Any, purpose: Any, base: str) -> dict[str, Any]:
    return {
        "@id": f"urn:uuid:{event.id}",
        "@type": "dpv:ConsentReceipt",
        "dct:identifier": str(event.id),
        "dct:conformsTo": RECEIPT_PROFILE,
        "dct:created": _time(event.recorded_at),
        "dpv:hasConsentStatus": {
            "@type": EVENT_STATUS.get(event.decision, "dpv:ConsentUnknown"),
            "dpv:isIndicatedAtTime": _time(event.collected_at),
        },
        "dpv:hasNotice": _notice(purpose, event.notice_version, base)["@id"],
        "dct:description": f"{event.decision} via {event.method}" + (" (superseded)" if event.superseded else ""),
    }


def _ld_response(*required: str) -> dict[str, Any]:
    schema = {"type": "object", "required": list(required)}
    return {"description": "JSON-LD", "content": {MEDIA_TYPE: {"schema": schema}}}


def _ld(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), mimetype=MEDIA_TYPE)


@bp.get("/subjects/<subject_id>/consents/iso27560", responses={200: _ld_response("@context", "@graph")})
@requires("consent.read", resource=_subject_resource)
def export_records(path: SubjectPath) -> Response:
    """The subject's consent records as ISO/IEC TS 27560 records in JSON-LD with the W3C DPV vocabulary."""
    base = current_app.extensions["governance.settings"].base_url.rstrip("/")
    with transaction(get_session()) as session:
        return _ld(records(session, path.subject_id, base=base))


@bp.get("/consents/iso27560/context.jsonld", responses={200: _ld_response("@context")})
@public("the JSON-LD context of the consent record format is a public vocabulary document")
def context() -> Response:
    response = _ld(context_document())
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
