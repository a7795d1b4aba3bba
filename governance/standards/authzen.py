"""OpenID AuthZEN Authorization API 1.0: this service as a policy decision point for enforcement points elsewhere.

- `POST /access/v1/evaluation` and the batch `POST /access/v1/evaluations` (the specification's default paths),
  `GET /.well-known/authzen-configuration` (PDP metadata). Callers are OAuth clients with `authzen:evaluate`.
- Two kinds of question, told apart by the resource type:
  - an **access decision** (resource type a Cedar entity type: `Subject`, `Request`, `Dataset`, `System`...;
    action name a catalogued action, docs/access.md): "may this staff member / data subject / client do X here?",
    answered by `access.service.decide` on the same policies every route uses;
  - a **consent check** (resource `{"type": "purpose", "id": <purpose key>}`, action `process`, subject
    `{"type": "data_subject", "id": <uuid>}`): "may this person's data be used for P?", answered by
    `consent.service.is_permitted`; the decision context carries its reason (`granted`, `withdrawn`...).
- Errors. A body that is not an evaluation request (a required key missing, a wrong type) is `400` with the
  service's error JSON (the specification: "Bad Request"); unknown keys are ignored, as it requires. A problem
  with one evaluation (a malformed id, an unknown action or type, an unknown subject) is a deny whose context
  names it: `{"decision": false, "context": {"error": {"status": 400|404, "code": ..., "message": ...}}}`. The
  single endpoint answers the same way, so one evaluation gives the same answer on either endpoint.
  Nothing the caller sent is echoed; subjects are never created.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from flask import Response, current_app, jsonify
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from governance.access import service as access
from governance.access.decorators import public, requires
from governance.access.principals import Principal, Resource
from governance.access.service import get_engine
from governance.api import ErrorBody, StrictModel
from governance.consent import service as consent
from governance.db import get_session, transaction
from governance.errors import DomainError

TAG = Tag(name="standards", description="Standard endpoints: GPC, DRP, ISO/IEC TS 27560, OpenID AuthZEN")
bp = APIBlueprint("authzen", __name__, url_prefix="/access/v1", abp_tags=[TAG])
metadata_bp = APIBlueprint("authzen_metadata", __name__, url_prefix="/.well-known", abp_tags=[TAG])

MAX_EVALUATIONS = 500
CONSENT_RESOURCE = "purpose"
CONSENT_ACTION = "process"
SUBJECT_TYPES = ("data_subject", "staff", "client")
SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")


class _Lenient(StrictModel):
    """The specification: receivers MUST ignore unknown fields (the input rules of StrictModel still hold)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class Entity(_Lenient):
    type: str = Field(min_length=1, max_length=100)
    id: str = Field(min_length=1, max_length=200)
    properties: dict[str, Any] | None = None


class Action(_Lenient):
    name: str = Field(min_length=1, max_length=100)
    properties: dict[str, Any] | None = None


class EvaluationRequest(_Lenient):
    subject: Entity
    action: Action
    resource: Entity
    context: dict[str, Any] | None = None


class PartialEvaluation(_Lenient):
    subject: Entity | None = None
    action: Action | None = None
    resource: Entity | None = None
    context: dict[str, Any] | None = None


class EvaluationsOptions(_Lenient):
    evaluations_semantic: Literal["execute_all", "deny_on_first_deny", "permit_on_first_permit"] = "execute_all"


class EvaluationsRequest(PartialEvaluation):
    evaluations: list[PartialEvaluation] | None = Field(default=None, max_length=MAX_EVALUATIONS)
    options: EvaluationsOptions | None = None


class DecisionOut(BaseModel):
    decision: bool
    context: dict[str, Any] | None = None


class DecisionsOut(BaseModel):
    """`evaluations` in the request's order; a request without `evaluations` gets one Decision instead."""

    evaluations: list[DecisionOut] | None = None
    decision: bool | None = None
    context: dict[str, Any] | None = None


class Metadata(BaseModel):
    policy_decision_point: str
    access_evaluation_endpoint: str
    access_evaluations_endpoint: str


class EvaluationProblem(Exception):
    """One evaluation cannot be answered: it becomes a deny whose context says why (fixed texts only)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message

    def as_decision(self) -> dict[str, Any]:
        return {
            "decision": False,
            "context": {"error": {"status": self.status, "code": self.code, "message": self.message}},
        }


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise EvaluationProblem(400, f"invalid_{what}_id", f"The {what} id is not a UUID.") from None


def _principal(session: Session, subject: Entity) -> Principal:
    """The principal the question is about, from this service's own records (never the caller's say-so, except
    `properties.mfa` of a staff member: whether the caller's session of that person passed a second factor)."""
    if subject.type == "data_subject":
        subject_id = _uuid(subject.id, "subject")
        _known_subject(session, subject_id)
        return Principal(kind="subject", id="authzen", subject_id=subject_id)
    if subject.type == "staff":
        mfa = (subject.properties or {}).get("mfa") is True
        found = access.staff_principal(session, _uuid(subject.id, "staff"), mfa=mfa)
    elif subject.type == "client":
        found = access.client_principal(session, subject.id)
    else:
        raise EvaluationProblem(400, "unsupported_subject_type", "Subject types: " + ", ".join(SUBJECT_TYPES) + ".")
    if found is None:
        raise EvaluationProblem(404, "unknown_subject", "No such active subject.")
    return found


def _known_subject(session: Session, subject_id: uuid.UUID) -> None:
    try:
        consent.subject_exists(session, subject_id)
    except DomainError as exc:  # unknown (404) or erased (410)
        raise EvaluationProblem(exc.status, "unknown_subject", "No such data subject.") from None


def _resource(action: str, entity: Entity) -> Resource:
    if not get_engine().applies_to(action, entity.type):
        raise EvaluationProblem(400, "not_applicable", "The action does not apply to this resource type.")
    if entity.type == "Subject":
        return Resource.subject(_uuid(entity.id, "resource"))
    if entity.type == "System":
        return Resource.system()
    props = entity.properties or {}
    owner = props.get("owner_subject")
    purpose, client = props.get("purpose"), props.get("owner_client")
    return Resource(
        type=entity.type,
        id=entity.id,
        owner_subject_id=_uuid(owner, "owner_subject") if isinstance(owner, str) else None,
        purpose=purpose if isinstance(purpose, str) else None,
        owner_client_id=client if isinstance(client, str) else None,
    )


def _consent_check(session: Session, request: EvaluationRequest) -> dict[str, Any]:
    if request.action.name != CONSENT_ACTION:
        raise EvaluationProblem(400, "unsupported_action", "A purpose takes the action `process`.")
    if request.subject.type != "data_subject":
        raise EvaluationProblem(400, "unsupported_subject_type", "A consent check is about a data_subject.")
    subject_id = _uuid(request.subject.id, "subject")
    _known_subject(session, subject_id)
    if consent.purposes().get(request.resource.id) is None:
        raise EvaluationProblem(404, "unknown_purpose", "No such purpose.")
    permission = consent.is_permitted(session, subject_id, request.resource.id)
    return {"decision": permission.allowed, "context": {"reason": permission.reason}}


def _access_decision(session: Session, request: EvaluationRequest) -> dict[str, Any]:
    action = request.action.name
    if action.startswith("group.") or action not in access.get_engine().actions:
        raise EvaluationProblem(400, "unknown_action", "Actions are those of docs/access.md's catalogue.")
    resource = _resource(action, request.resource)
    principal = _principal(session, request.subject)
    reason = (request.context or {}).get("reason")  # break-glass needs a written reason; nothing else reads it
    decision = access.decide(principal, action, resource, {"reason": reason} if isinstance(reason, str) else None)
    return {"decision": decision.allowed, "context": {"reason": "permitted" if decision.allowed else "denied"}}


def evaluate(session: Session, request: EvaluationRequest) -> dict[str, Any]:
    """One evaluation as an AuthZEN Decision; a problem with it is a deny that names the problem."""
    try:
        if request.resource.type == CONSENT_RESOURCE:
            return _consent_check(session, request)
        return _access_decision(session, request)
    except EvaluationProblem as problem:
        return problem.as_decision()


def _merged(defaults: EvaluationsRequest, item: PartialEvaluation) -> EvaluationRequest | EvaluationProblem:
    """An evaluation with the request's top-level values as defaults (the specification's "Default values")."""
    subject = item.subject or defaults.subject
    action = item.action or defaults.action
    resource = item.resource or defaults.resource
    if subject is None or action is None or resource is None:
        return EvaluationProblem(400, "incomplete_evaluation", "subject, action and resource are required.")
    return EvaluationRequest(
        subject=subject, action=action, resource=resource, context=item.context or defaults.context
    )


def _stops(semantic: str, decision: dict[str, Any]) -> bool:
    return (semantic == "deny_on_first_deny" and not decision["decision"]) or (
        semantic == "permit_on_first_permit" and decision["decision"]
    )


@bp.post("/evaluation", responses={200: DecisionOut, 400: ErrorBody})
@requires("authzen.evaluate")
def access_evaluation(body: EvaluationRequest) -> Response:
    """AuthZEN Access Evaluation: one decision."""
    with transaction(get_session()) as session:
        return jsonify(evaluate(session, body))


@bp.post("/evaluations", responses={200: DecisionsOut, 400: ErrorBody})
@requires("authzen.evaluate")
def access_evaluations(body: EvaluationsRequest) -> Response:
    """AuthZEN Access Evaluations: several decisions in the request's order, with top-level defaults and the
    `options.evaluations_semantic` short-circuits. Without `evaluations` it is one evaluation."""
    with transaction(get_session()) as session:
        if not body.evaluations:  # the specification: then it is the single Access Evaluation request
            single = _merged(body, PartialEvaluation())
            if isinstance(single, EvaluationProblem):
                missing = {k: "required" for k in ("subject", "action", "resource") if getattr(body, k) is None}
                raise DomainError(
                    "The request has invalid or unknown fields.", code="validation_failed", fields=missing
                )
            return jsonify(evaluate(session, single))
        semantic = body.options.evaluations_semantic if body.options else "execute_all"
        decisions = []
        for item in body.evaluations:
            merged = _merged(body, item)
            decision = merged.as_decision() if isinstance(merged, EvaluationProblem) else evaluate(session, merged)
            decisions.append(decision)
            if _stops(semantic, decision):
                break
    return jsonify({"evaluations": decisions})


@metadata_bp.get("/authzen-configuration", responses={200: Metadata})
@public("PDP metadata is public by specification (OpenID AuthZEN 1.0, section 9)")
def authzen_configuration() -> Response:
    base = current_app.extensions["governance.settings"].base_url.rstrip("/")
    return jsonify(
        {
            "policy_decision_point": base,
            "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
            "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
        }
    )
