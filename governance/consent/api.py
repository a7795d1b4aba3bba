"""The consent API: record decisions (idempotent), read state, history and receipts, check permissions, GPC,
objections, bulk import, and processors with their webhook deliveries. Routes parse, authorize, call the
service and respond; the transaction is theirs."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from flask import Response, abort, jsonify, request
from sqlalchemy.exc import IntegrityError

from governance.access.decorators import current_principal, public, requires, resource_of
from governance.access.principals import Principal, Resource
from governance.api import ErrorBody, api_blueprint, dump, idempotent_write
from governance.consent import imports, processors, service
from governance.consent.errors import InvalidDecisionError
from governance.consent.receipts import InvalidReceiptError
from governance.consent.schemas import (
    BulkCheckBody,
    BulkCheckOut,
    CheckOut,
    CheckQuery,
    DeliveryList,
    DeliveryOut,
    DeliveryPath,
    HistoryOut,
    ImportBody,
    ImportOut,
    ImportPath,
    ImportRejectedOut,
    JwkSet,
    NoticePath,
    ObjectionBody,
    ObjectionOut,
    ProcessorBody,
    ProcessorList,
    ProcessorOut,
    ProcessorPath,
    ProcessorSecretOut,
    PurposeList,
    ReceiptsOut,
    RecordDecisionsBody,
    RecordedOut,
    StateOut,
    SubjectPath,
    VerifyBody,
    VerifyOut,
)
from governance.consent.state import Method
from governance.db import get_db, get_session, transaction
from governance.errors import DomainError, ValidationFailedError

bp = api_blueprint("consent", description="Consent decisions, receipts, checks, GPC, imports and processors")
public_bp = api_blueprint("consent_public", tag="consent", description="Purposes, notices and receipt keys")
NOTICE_TEXT = {"description": "the notice text", "content": {"text/markdown": {"schema": {"type": "string"}}}}


@resource_of("Subject")
def _subject_resource(view_args: dict[str, Any]) -> Resource:
    try:
        return Resource.subject(uuid.UUID(str(view_args.get("subject_id"))))
    except ValueError:
        return Resource(type="Subject", id="invalid")


@resource_of("Subject")
def _checked_subject_resource(_view_args: dict[str, Any]) -> Resource:
    """The check endpoint names its subject in the query string; a subject session may check only itself."""
    try:
        return Resource.subject(uuid.UUID(request.args.get("subject", "")))
    except ValueError:
        return Resource(type="Subject", id="invalid")


def _method_for(principal: Principal) -> str:
    return Method.DASHBOARD.value if principal.kind == "subject" else Method.API.value


def _json(data: Any, status: int = 200) -> Response:
    response = jsonify(data)
    response.status_code = status
    return response


def _gpc_signal(body: RecordDecisionsBody) -> bool:
    return body.gpc or request.headers.get("Sec-GPC", "").strip() == "1"


def _request_hash(subject_id: uuid.UUID, body: RecordDecisionsBody, gpc: bool) -> str:
    canonical = json.dumps(
        {"subject": str(subject_id), "body": body.model_dump(mode="json"), "gpc": gpc},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _record(subject_id: uuid.UUID, body: RecordDecisionsBody, principal: Principal) -> dict[str, Any]:
    session = get_session()
    gpc = _gpc_signal(body)
    if not body.decisions and not gpc:
        raise InvalidDecisionError("No decisions given.", fields={"decisions": "empty"})
    jurisdiction = body.jurisdiction or service.purposes().controller.default_jurisdiction
    evidence = body.evidence.model_dump(exclude_none=True) if body.evidence else {}
    ua = request.headers.get("User-Agent")
    if ua and "user_agent_sha256" not in evidence:
        evidence["user_agent_sha256"] = hashlib.sha256(ua.encode()).hexdigest()
    issued = []
    if body.decisions:
        issued = service.record_decisions(
            session,
            subject_id,
            [d.model_dump() for d in body.decisions],
            method=_method_for(principal),
            actor=principal,
            jurisdiction=jurisdiction,
            evidence=evidence,
        )
    gpc_receipts = []
    if gpc:
        if not issued:
            service.subject_exists(session, subject_id)
        gpc_receipts = service.apply_gpc(
            session,
            subject_id,
            actor=principal,
            jurisdiction=jurisdiction,
            explicit=[d.purpose for d in body.decisions],
        )
    return {
        "subject_id": str(subject_id),
        "receipts": [r.as_dict() for r in issued + gpc_receipts],
        "gpc_withdrawn": [r.purpose for r in gpc_receipts],
    }


class _KeyTaken(Exception):
    """The write's Idempotency-Key is already stored: its transaction must roll back before the replay."""


@bp.post(
    "/subjects/<subject_id>/consents",
    responses={200: RecordedOut, 201: RecordedOut, 409: ErrorBody},
)
@requires("consent.write", resource=_subject_resource)
@idempotent_write
def record_decisions(path: SubjectPath, body: RecordDecisionsBody) -> Response:
    """Record decisions collected from the subject. Clients send an `Idempotency-Key`; a replay with the same
    body returns the first response, a different body is 409. `Sec-GPC: 1` withdraws sale/sharing purposes."""
    principal = current_principal()
    key = request.headers.get("Idempotency-Key", "").strip()
    if principal.kind == "client" and not key:
        raise ValidationFailedError(
            "Send an Idempotency-Key header with every write.",
            code="idempotency_key_required",
            fields={"Idempotency-Key": "required"},
        )
    if len(key) > 128:
        raise ValidationFailedError(fields={"Idempotency-Key": "at most 128 characters"})
    session = get_session()
    actor_key = f"{principal.kind}:{principal.id}"
    digest = _request_hash(path.subject_id, body, _gpc_signal(body))
    for attempt in range(2):
        try:
            with transaction(session):
                # A key is new on almost every request: the first attempt writes at once and stores the key
                # last, in the same transaction. A replay (or a different body under the same key) finds the
                # key taken, the whole write rolls back, and the second attempt reads the stored one.
                if key and attempt:
                    replay = service.idempotent_replay(session, actor_key, key, digest)
                    if replay is not None:
                        return _json(replay, 200)
                result = _record(path.subject_id, body, principal)
                if key and not service.remember_response(session, actor_key, key, digest, path.subject_id, result):
                    raise _KeyTaken()  # rolls the write back; the next pass replays the stored response (or 409)
            return _json(result, 201)
        except DomainError:
            # A replay of a write that succeeded earlier answers as it did then, even if the same write would
            # now be refused (the subject was erased, a notice changed): look for the key before refusing.
            if not key or attempt:
                raise
            with transaction(session):
                replay = service.idempotent_replay(session, actor_key, key, digest)
            if replay is None:
                raise
            return _json(replay, 200)
        except _KeyTaken:
            # The key was stored before (a replay) or by a concurrent request that committed first: replay it
            # (or 409) on the next pass. Taken again on that pass (pruned, then stored by another request
            # between the pass's read and its write): 409.
            continue
        except IntegrityError:  # any other unique-key race of the write: tried once more
            if not key or attempt:
                raise
    return abort(409)


@bp.get("/subjects/<subject_id>/consents", responses={200: StateOut})
@requires("consent.read", resource=_subject_resource)
def get_state(path: SubjectPath) -> Response:
    """Every purpose with the subject's current state (allowed, reason, needs renewed consent, expiry)."""
    with transaction(get_session()) as session:
        service.subject_exists(session, path.subject_id)
        state = {"subject_id": path.subject_id, "purposes": service.overview(session, path.subject_id)}
        return _json(dump(StateOut, state))


@bp.get("/subjects/<subject_id>/consents/history", responses={200: HistoryOut})
@requires("consent.read", resource=_subject_resource)
def get_history(path: SubjectPath) -> Response:
    with transaction(get_session()) as session:
        service.subject_exists(session, path.subject_id)
        history = {"subject_id": path.subject_id, "events": service.history(session, path.subject_id)}
        return _json(dump(HistoryOut, history))


@bp.get("/subjects/<subject_id>/consents/receipts", responses={200: ReceiptsOut})
@requires("consent.read", resource=_subject_resource)
def get_receipts(path: SubjectPath) -> Response:
    with transaction(get_session()) as session:
        service.subject_exists(session, path.subject_id)
        items = service.receipts(session, path.subject_id)
    return _json({"subject_id": str(path.subject_id), "receipts": items})


@bp.post("/subjects/<subject_id>/consents/objections", responses={201: ObjectionOut})
@requires("consent.write", resource=_subject_resource)
def post_objection(path: SubjectPath, body: ObjectionBody) -> Response:
    """Object to (or lift an objection to) processing for purposes based on legitimate interest or consent."""
    session = get_session()
    with transaction(session):
        if body.lift:
            service.lift_objection(session, path.subject_id, body.purposes, actor=current_principal())
        else:
            service.object_to(session, path.subject_id, body.purposes, actor=current_principal())
    return _json({"subject_id": str(path.subject_id), "purposes": body.purposes, "objected": not body.lift}, 201)


@bp.get("/consents/check", responses={200: CheckOut})
@requires("consent.check", resource=_checked_subject_resource)
def check(query: CheckQuery) -> Response:
    """May `purpose` use `subject`'s data now? Unknown purpose: 422 with the valid ones."""
    service.purpose(query.purpose)
    with get_db().statement_reads() as session:  # one primary-key read: no transaction round trips around it
        permission = service.is_permitted(session, query.subject, query.purpose)
        if permission.reason == "no_consent":
            service.subject_exists(session, query.subject)  # unknown subjects are 404, not "no consent"
    return _json(
        {
            "subject_id": str(query.subject),
            "purpose": query.purpose,
            "allowed": permission.allowed,
            "reason": permission.reason,
        }
    )


@bp.post("/consents/check", responses={200: BulkCheckOut})
@requires("consent.check")
def check_bulk(body: BulkCheckBody) -> Response:
    """The check for up to 10,000 subjects at once."""
    service.purpose(body.purpose)
    with transaction(get_session()) as session:
        results = service.check_many(session, body.subject_ids, body.purpose)
    return _json(
        {
            "purpose": body.purpose,
            "results": {str(k): {"allowed": v.allowed, "reason": v.reason} for k, v in results.items()},
        }
    )


@bp.post("/consents/receipts/verify", responses={200: VerifyOut})
@requires("receipt.verify")
def verify(body: VerifyBody) -> Response:
    """Check a receipt's signature, and whether its record is in the ledger and still the decision in force."""
    try:
        with transaction(get_session()) as session:
            result = service.verify_receipt_token(session, body.jws)
    except InvalidReceiptError as exc:
        return _json({"valid": False, "error": "invalid_receipt", "message": str(exc)}, 200)
    return _json(result)


@bp.post("/consents/imports", responses={202: ImportOut, 422: ImportRejectedOut})
@requires("consent.import")
def start_import(body: ImportBody) -> Response:
    """Import decisions from another consent platform (CSV or JSON Lines). Validated whole first: a malformed
    or oversized file is rejected with a report and nothing imported; then imported by a resumable job."""
    session = get_session()
    with transaction(session):
        view = imports.start(
            session, content=body.content.encode(), fmt=body.format, source=body.source, actor=current_principal()
        )
    if view["status"] == "rejected":
        message = "The file was rejected as a whole; nothing was imported (see import.report)."
        return _json({"error": "import_rejected", "message": message, "import": view}, 422)
    return _json(view, 202)


@bp.get("/consents/imports/<import_id>", responses={200: ImportOut})
@requires("consent.import")
def get_import(path: ImportPath) -> Response:
    with transaction(get_session()) as session:
        return _json(imports.status(session, path.import_id))


@bp.post("/consents/processors", responses={201: ProcessorSecretOut, 409: ErrorBody})
@requires("processor.manage")
def create_processor(body: ProcessorBody) -> Response:
    """Register a downstream system; the response shows its webhook signing secret once."""
    session = get_session()
    with transaction(session):
        view, secret = processors.register_processor(
            session,
            name=body.name,
            url=body.url,
            events=body.events,
            purposes=body.purposes,
            actor=current_principal(),
        )
    return _json({**dump(ProcessorOut, view), "secret": secret}, 201)


@bp.get("/consents/processors", responses={200: ProcessorList})
@requires("processor.manage")
def list_processors() -> Response:
    with transaction(get_session()) as session:
        return _json(dump(ProcessorList, {"processors": processors.list_processors(session)}))


@bp.post("/consents/processors/<processor_id>/rotate-secret", responses={200: ProcessorSecretOut})
@requires("processor.manage")
def rotate_secret(path: ProcessorPath) -> Response:
    session = get_session()
    with transaction(session):
        view, secret = processors.rotate_secret(session, path.processor_id, actor=current_principal())
    return _json({**dump(ProcessorOut, view), "secret": secret})


@bp.post("/consents/processors/<processor_id>/deactivate", responses={200: ProcessorOut})
@requires("processor.manage")
def deactivate(path: ProcessorPath) -> Response:
    session = get_session()
    with transaction(session):
        view = processors.set_active(session, path.processor_id, False, actor=current_principal())
    return _json(dump(ProcessorOut, view))


@bp.get("/consents/processors/<processor_id>/deliveries", responses={200: DeliveryList})
@requires("processor.manage")
def list_deliveries(path: ProcessorPath) -> Response:
    with transaction(get_session()) as session:
        items = processors.deliveries(session, processor_id=path.processor_id)
        return _json(dump(DeliveryList, {"deliveries": items}))


@bp.post("/consents/deliveries/<delivery_id>/redeliver", responses={200: DeliveryOut})
@requires("processor.manage")
def redeliver(path: DeliveryPath) -> Response:
    session = get_session()
    with transaction(session):
        view = processors.redeliver(session, path.delivery_id, actor=current_principal())
    return _json(dump(DeliveryOut, view))


# --- public: what the purposes are, the notice texts, and the receipt verification keys ---------------------


@public_bp.get("/purposes", responses={200: PurposeList})
@public("the purposes and their notices are the public privacy notice")
def list_purposes() -> Response:
    items = []
    for item in service.purposes():
        items.append(
            {
                "key": item.key,
                "title": item.title,
                "description": item.description,
                "legal_basis": item.legal_basis.value,
                "profile_fields": list(item.profile_fields),
                "event_categories": list(item.event_categories),
                "retention_days": item.retention_days,
                "sale_or_sharing": item.sale_or_sharing,
                "max_consent_age_days": item.max_consent_age_days,
                "notice": {
                    "version": item.current_notice.version,
                    "sha256": item.current_notice.sha256,
                    "published": item.current_notice.published.isoformat(),
                    "renewal_from_version": item.renewal_from_version,
                },
            }
        )
    return _json({"purposes": items})


@public_bp.get("/purposes/<key>/notices/<int:version>", responses={200: NOTICE_TEXT})
@public("published notice texts are public")
def get_notice(path: NoticePath) -> Response:
    text = service.purposes().notice_text(path.key, path.version)
    if text is None:
        service.purpose(path.key)
        abort(404)
    return Response(text, mimetype="text/markdown")


@public_bp.get("/consents/receipts/keys", responses={200: JwkSet})
@public("public keys for verifying consent receipts offline")
def receipt_keys() -> Response:
    with transaction(get_session()) as session:
        return _json(service.public_jwks(session))
