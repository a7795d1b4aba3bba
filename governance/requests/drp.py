"""The Data Rights Protocol (Consumer Reports' DRP 0.9.4) for CCPA authorized agents, on the service's requests.

Endpoints (api_base `<GOVERNANCE_BASE_URL>/drp`): `POST /drp/v1/data-rights-request` (exercise),
`GET /drp/v1/data-rights-request/<id>` (status), `DELETE /drp/v1/data-rights-request/<id>` (revoke),
`GET /drp/v1/agent/<agent-id>` (agent information), and the discovery document `GET /.well-known/data-rights.json`
(the business's directory entry, section 3.05.2; DRP 0.9 moved discovery to a directory, the well-known file is
kept for agents that still look there).

- Who: an authorized agent is an OAuth client with scope `drp:agent` (Cedar `drp.request`) listed in
  `policies/drp.yaml` with its DRP `agent-id` and Ed25519 verify key. The OAuth bearer token takes the place of
  the specification's pairwise token (`POST /v1/agent/<id>` is not offered).
- Signed messages (section 3.07): exercise and revoke bodies are `base64(signature || JSON)` sent as `text/plain`;
  the signature must verify with the agent's key, `agent-id` must be the token's agent, `business-id` ours,
  `issued-at` not in the future (60 s skew), `expires-at` not past, `drp.version` 0.9.x.
- Mapping: `access` -> an `access` request (export), `deletion` -> an `erasure` request. The person is found by the
  `email` claim (the vault's blind index); `email_verified: true` is the agent's attestation that it verified the
  person, recorded as the verification method `drp_agent_email`, so the request starts at once; without it the
  request waits in `received` for a DPO to verify identity, as any request filed without a verification method.
  No match: `denied`/`no_match`, nothing filed. Revoke = reject with the policy reason `revoked_by_agent`.
- Statuses: received -> `open`; verified, in_progress -> `in_progress` (`expected_by` = the due date);
  completed, partially_completed -> `fulfilled`; rejected -> `revoked` or `denied` with the mapped reason.
- Errors have the specification's shape `{"code": "<HTTP status>", "message": ..., "fatal"?}` (section 3.06),
  including authentication and authorization failures on these paths; a request of another agent is `403`.
- Every exercise, denial, status read and revocation is audited (`requests.drp.*`); claims (email, name) are
  never stored, logged or echoed: only the subject id the email resolved to.
Status callbacks (section 2.03) are not sent: agents poll the status endpoint.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Response, current_app, jsonify, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from governance import audit
from governance.access.decorators import current_principal, public, requires
from governance.access.principals import Principal
from governance.consent import service as consent
from governance.core.runtime import Slot, runtime
from governance.db import current_session, get_session, transaction, utcnow
from governance.errors import DomainError
from governance.requests import service
from governance.requests.errors import InvalidTransitionError
from governance.requests.models import DataSubjectRequest
from governance.vault import service as vault

DRP_VERSION = "0.9.4"
TAG = Tag(name="standards", description="Standard endpoints: GPC, DRP, ISO/IEC TS 27560, OpenID AuthZEN")
bp = APIBlueprint("drp", __name__, url_prefix="/drp/v1", abp_tags=[TAG])
discovery_bp = APIBlueprint("drp_discovery", __name__, url_prefix="/.well-known", abp_tags=[TAG])

ACTIONS = {"access": "access", "deletion": "erasure"}  # DRP right -> request kind
VERIFICATION_METHOD = "drp_agent_email"
REVOKE_CODE = "revoked_by_agent"
CLOCK_SKEW = dt.timedelta(seconds=60)
MAX_VALIDITY = dt.timedelta(days=1)
DENIAL_REASONS = {
    "identity_not_verified": "insuf_verification",
    "not_applicable": "claim_not_covered",
    "excessive": "too_many_requests",
    "subject_erased": "no_match",
}


class Agent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[A-Z_]{1,64}$")
    client_id: str = Field(min_length=3, max_length=63)
    verify_key: str = Field(min_length=40, max_length=60)

    @field_validator("verify_key")
    @classmethod
    def _key(cls, value: str) -> str:
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ValueError("base64 of a 32-byte Ed25519 public key") from None
        if len(raw) != 32:
            raise ValueError("base64 of a 32-byte Ed25519 public key")
        return value

    def public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(self.verify_key))


class DrpPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_version: int = Field(ge=1, le=1)
    business_id: str = Field(pattern=r"^[A-Z_]{1,64}$")
    name: str = Field(min_length=1, max_length=200)
    agents: tuple[Agent, ...] = ()

    def agent_for_client(self, client_id: str) -> Agent | None:
        return next((a for a in self.agents if a.client_id == client_id), None)


# the app's policies/drp.yaml (filled at start-up from the configured policies folder)
DRP_POLICY = Slot("requests.drp", DrpPolicy)


def _policy() -> DrpPolicy:
    return runtime().get(DRP_POLICY)


# --- errors in the specification's shape (section 3.06) --------------------------------------------------------


class DrpError(DomainError):
    """A request error: answered as `{"code": "<status>", "message": ..., "fatal"?}`."""

    def __init__(self, status: int, message: str, *, fatal: bool = False) -> None:
        super().__init__(message, status=status, code=str(status))
        self.fatal = fatal


def _spec_error(status: int, message: str, *, fatal: bool = False, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"code": str(status), "message": message}
    if fatal:
        body["fatal"] = True
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> Response:
    """Every refusal on these paths, including authentication (401) and authorization (403), in DRP's shape."""
    session = current_session()
    if session is not None:
        session.rollback()
    return _spec_error(exc.status, exc.message, fatal=getattr(exc, "fatal", False), headers=exc.headers)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    """A body too large and other HTTP errors inside these routes: the same shape. (A method the path does not
    take is refused while routing, before any DRP route is known: that 405 keeps the service's error JSON.)"""
    status = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() not in {"content-type", "content-length"}}
    return _spec_error(status, HTTP_MESSAGES.get(status, "The request cannot be processed."), headers=headers)


HTTP_MESSAGES = {413: "The request body is too large.", 404: "No such resource."}


# --- signed messages (section 3.07) ------------------------------------------------------------------------


class Envelope(BaseModel):
    """The keys every signed message carries (section 2.01, group 1); the rest depends on the endpoint."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    agent_id: str = Field(alias="agent-id", min_length=1, max_length=64)
    business_id: str = Field(alias="business-id", min_length=1, max_length=64)
    issued_at: dt.datetime = Field(alias="issued-at")
    expires_at: dt.datetime = Field(alias="expires-at")


class ExerciseMessage(Envelope):
    drp_version: str = Field(alias="drp.version", min_length=1, max_length=16)
    exercise: str = Field(min_length=1, max_length=40)
    regime: str | None = Field(default=None, max_length=20)
    agent_request_id: str | None = Field(default=None, alias="agent-request-id", max_length=100)
    email: str | None = Field(default=None, max_length=320)
    email_verified: bool = False


def _agent() -> Agent:
    principal = current_principal()
    agent = _policy().agent_for_client(principal.id)
    if agent is None:
        raise DrpError(403, "This client is not a registered authorized agent.")
    return agent


def _signed_body(agent: Agent) -> dict[str, Any]:
    """The verified JSON object of a `base64(signature || JSON)` body; 400/403 as the specification says."""
    try:
        raw = base64.b64decode(request.get_data(cache=True), validate=True)
    except (binascii.Error, ValueError):
        raise DrpError(400, "The body is not base64.", fatal=True) from None
    if len(raw) <= 64:
        raise DrpError(400, "The body is not a signed message.", fatal=True)
    signature, message = raw[:64], raw[64:]
    try:
        agent.public_key().verify(signature, message)
    except InvalidSignature:
        raise DrpError(403, "The signature does not verify with the agent's key.", fatal=True) from None
    try:
        data = current_app.json.loads(message)
    except (ValueError, UnicodeDecodeError):
        raise DrpError(400, "The signed message is not JSON.", fatal=True) from None
    if not isinstance(data, dict):
        raise DrpError(400, "The signed message is not a JSON object.", fatal=True)
    return data


def _check_envelope(message: Envelope, agent: Agent, now: dt.datetime) -> None:
    if message.agent_id != agent.id:
        raise DrpError(403, "agent-id is not the agent of this token.", fatal=True)
    if message.business_id != _policy().business_id:
        raise DrpError(403, "business-id names another business.", fatal=True)
    issued, expires = _aware(message.issued_at), _aware(message.expires_at)
    if issued > now + CLOCK_SKEW:
        raise DrpError(400, "issued-at is in the future.", fatal=True)
    if expires <= now:
        raise DrpError(400, "The request has expired (expires-at).", fatal=True)
    if expires - issued > MAX_VALIDITY:
        raise DrpError(400, "expires-at is too far after issued-at.", fatal=True)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _parse(model: type[Envelope], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        names = sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]} & _known_names(model))
        raise DrpError(400, "Invalid or missing keys: " + (", ".join(names) or "the message"), fatal=True) from None


def _known_names(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


# --- the status object (section 3.03) -------------------------------------------------------------------------


def _status(row: Any, *, now: dt.datetime) -> dict[str, Any]:
    drp = (row.params or {}).get("drp", {})
    out: dict[str, Any] = {"request_id": str(row.id), "received_at": _time(row.received_at)}
    if drp.get("agent_request_id"):
        out["agent_request_id"] = drp["agent_request_id"]
    status, reason, details = _state(row)
    out["status"] = status
    if reason:
        out["reason"] = reason
    if status in ("open", "in_progress"):
        out["expected_by"] = _time(dt.datetime.combine(row.due_on, dt.time(23, 59, 59), dt.UTC))
    if details:
        out["processing_details"] = details
    return out


def _state(row: Any) -> tuple[str, str | None, str | None]:
    if row.status == "received":
        return "open", None, "awaiting identity verification by the business"
    if row.status in ("verified", "in_progress"):
        return "in_progress", None, None
    if row.status == "completed":
        return "fulfilled", None, None
    if row.status == "partially_completed":
        return "fulfilled", None, "partially completed: some data is kept under a legal obligation"
    if row.rejection_code == REVOKE_CODE:
        return "revoked", None, None
    return "denied", DENIAL_REASONS.get(row.rejection_code or "", "other"), None


def _time(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def _row(session: Session, request_id: str, agent: Agent) -> Any:
    try:
        rid = uuid.UUID(request_id)
    except ValueError:
        raise DrpError(404, "No such request.") from None
    row = session.get(DataSubjectRequest, rid)
    if row is None:
        raise DrpError(404, "No such request.")
    if row.filed_by != f"client:{agent.client_id}" or (row.params or {}).get("drp", {}).get("agent_id") != agent.id:
        raise DrpError(403, "This request is managed by another agent.")  # the specification asks for 403
    return row


def _audit(session: Session, actor: Principal, action: str, request_id: uuid.UUID | None, **details: Any) -> None:
    target = ("request", request_id) if request_id else None
    audit.record(session, actor=actor, action=f"requests.drp.{action}", target=target, details=details)


# --- routes ---------------------------------------------------------------------------------------------------


class StatusOut(BaseModel):
    request_id: str
    status: str
    reason: str | None = None
    received_at: str | None = None
    expected_by: str | None = None
    agent_request_id: str | None = None
    processing_details: str | None = None


class DrpErrorBody(BaseModel):
    code: str
    message: str
    fatal: bool | None = None


class RequestPath(BaseModel):
    request_id: str  # any text: a value that is no request id is 404, in the specification's shape


class AgentPath(BaseModel):
    agent_id: str


SIGNED_BODY = {
    "required": True,
    "content": {"text/plain": {"schema": {"type": "string", "description": "base64(Ed25519 signature || JSON)"}}},
}
ERRORS: dict[str | int, Any] = dict.fromkeys(
    (400, 401, 403, 404, 409), DrpErrorBody
)  # governance.openapi points them at DrpError


@bp.post("/data-rights-request", responses={200: StatusOut, **ERRORS}, openapi_extensions={"requestBody": SIGNED_BODY})
@requires("drp.request")
def exercise() -> Response:
    """Data Rights Exercise (section 2.01): file an access or deletion request for the person the agent verified."""
    agent, now, principal = _agent(), utcnow(), current_principal()
    message: ExerciseMessage = _parse(ExerciseMessage, _signed_body(agent))
    _check_envelope(message, agent, now)
    if not message.drp_version.startswith("0.9"):
        raise DrpError(400, "Unsupported drp.version; this business speaks 0.9.4.", fatal=True)
    kind = ACTIONS.get(message.exercise)
    if kind is None:
        raise DrpError(400, "Unsupported rights action; supported: " + ", ".join(ACTIONS) + ".", fatal=True)
    session = get_session()
    with transaction(session):
        found = vault.find_subject(session, email=message.email) if message.email else None
        if found is None:
            request_id = uuid.uuid4()
            _audit(session, principal, "denied", None, agent_id=agent.id, exercise=message.exercise, reason="no_match")
            denied: dict[str, str | None] = {"request_id": str(request_id), "status": "denied", "reason": "no_match"}
            denied |= {"received_at": _time(now)}
            if message.agent_request_id:
                denied["agent_request_id"] = message.agent_request_id
            return jsonify(denied)
        filed = service.file_request(
            session,
            subject_id=found.id,
            kind=kind,
            actor=principal,
            source="client",
            verification_method=VERIFICATION_METHOD if message.email_verified else None,
        )
        row = session.get_one(DataSubjectRequest, filed.request.id)  # merged: the open request of the same kind
        if not filed.merged:
            row.params = {**(row.params or {}), "drp": _drp_params(agent, message)}
        _audit(
            session,
            principal,
            "exercised",
            row.id,
            agent_id=agent.id,
            exercise=message.exercise,
            merged=filed.merged,
            verified=message.email_verified,
        )
        session.flush()
        return jsonify(_status(row, now=now))


def _drp_params(agent: Agent, message: ExerciseMessage) -> dict[str, Any]:
    return {"agent_id": agent.id, "agent_request_id": message.agent_request_id, "regime": message.regime}


@bp.get("/data-rights-request/<request_id>", responses={200: StatusOut, **ERRORS})
@requires("drp.request")
def status(path: RequestPath) -> Response:
    """Data Rights Status (section 2.02): only the agent that filed the request may read it (403 otherwise)."""
    agent, now = _agent(), utcnow()
    session = get_session()
    with transaction(session):
        row = _row(session, path.request_id, agent)
        _audit(session, current_principal(), "status_read", row.id, agent_id=agent.id, status=row.status)
        return jsonify(_status(row, now=now))


@bp.delete(
    "/data-rights-request/<request_id>",
    responses={200: StatusOut, **ERRORS},
    openapi_extensions={"requestBody": SIGNED_BODY},
)
@requires("drp.request")
def revoke(path: RequestPath) -> Response:
    """Data Rights Revoke (section 2.04): cancel an open request (the person's `reason` is not kept)."""
    agent, now, principal = _agent(), utcnow(), current_principal()
    _check_envelope(_parse(Envelope, _signed_body(agent)), agent, now)
    session = get_session()
    with transaction(session):
        row = _row(session, path.request_id, agent)
        if row.closed_at is not None:
            raise DrpError(409, "The request is closed; it can no longer be revoked.")
        try:
            service.reject_request(session, row.id, code=REVOKE_CODE, actor=principal, now=now)
        except InvalidTransitionError:
            raise DrpError(409, "The deletion has already been carried out; it can no longer be revoked.") from None
        _audit(session, principal, "revoked", row.id, agent_id=agent.id)
        session.flush()
        return jsonify(_status(row, now=now))


@bp.get(
    "/agent/<agent_id>",
    responses={200: {"description": "{}", "content": {"application/json": {"schema": {"type": "object"}}}}, **ERRORS},
)
@requires("drp.request")
def agent_information(path: AgentPath) -> Response:
    """Agent Information (section 2.06): `{}` when the bearer token is this agent's, 403 otherwise."""
    if _agent().id != path.agent_id:
        raise DrpError(403, "The token is not this agent's.")
    return jsonify({})


class BusinessEntry(BaseModel):
    id: str
    name: str
    api_base: str
    supported_actions: list[str]
    supported_verifications: list[str]
    privacy_policy_url: str | None = None
    drp_version: str


@discovery_bp.get("/data-rights.json", responses={200: BusinessEntry})
@public("the Data Rights Protocol discovery document is public by specification")
def discovery() -> Response:
    base = current_app.extensions["governance.settings"].base_url.rstrip("/")
    policy = _policy()
    body = {
        "id": policy.business_id,
        "name": policy.name,
        "api_base": f"{base}/drp",
        "supported_actions": list(ACTIONS),
        "supported_verifications": ["email"],
        "privacy_policy_url": consent.purposes().controller.policy_url,
        "drp_version": DRP_VERSION,
    }
    return jsonify(body)
