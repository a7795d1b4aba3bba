"""HTTP API of data subject requests (/api/v1/requests…): parse, authorize, call the service, respond."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from flask import Response, current_app
from pydantic import BaseModel, Field

from governance.access import service as access
from governance.access.decorators import current_principal, public, requires, resource_of
from governance.access.principals import Principal, Resource
from governance.api import ErrorBody, ResponseModel, StrictModel, api_blueprint, file_response, json_object_response
from governance.db import get_session, transaction
from governance.errors import ForbiddenError, NotFoundError, ValidationFailedError
from governance.requests import service
from governance.requests.bundle_schema import json_schema
from governance.requests.cursor import decode_cursor, encode_cursor
from governance.requests.errors import RequestNotFoundError
from governance.vault import service as vault

bp = api_blueprint("requests", description="Data subject requests: export, erasure, rectification, objection")


# --- schemas -------------------------------------------------------------------------------------------------


class FileRequestBody(StrictModel):
    kind: str = Field(max_length=40, description="access, portability, erasure, rectification or objection")
    subject_id: uuid.UUID | None = Field(default=None, description="Staff and clients: whom the request is for")
    external_ref: str | None = Field(default=None, max_length=200, description="Or the product's own user id")
    verification_method: str | None = Field(
        default=None, max_length=60, description="How identity was verified (required from clients)"
    )
    purposes: list[str] | None = Field(default=None, max_length=50, description="Objection: purposes to stop")
    fields: dict[str, Any] | None = Field(default=None, description="Rectification: field -> corrected value")


class RequestPath(BaseModel):
    request_id: uuid.UUID


class TokenPath(BaseModel):
    token: str = Field(max_length=100)


class ListQuery(StrictModel):
    status: str | None = Field(default=None, max_length=24)
    kind: str | None = Field(default=None, max_length=20)
    subject_id: uuid.UUID | None = None
    overdue: bool = False
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(
        default=None, max_length=200, description="`next_cursor` of the previous page (not with `overdue=true`)"
    )


class VerifyBody(StrictModel):
    method: str = Field(min_length=1, max_length=60)


class ConfirmBody(StrictModel):
    method: str = Field(min_length=1, max_length=60, description="How the requester was told, e.g. email, letter")


class ExtendBody(StrictModel):
    amount: int = Field(ge=1, le=366, description="In the jurisdiction's unit (GDPR months, CCPA days)")
    reason: str | None = Field(default=None, max_length=2000, description="Sent to the subject")
    notified_on: date | None = None


class RejectBody(StrictModel):
    code: str = Field(max_length=40, description="A rejection reason from policies/requests.yaml")


class RequestOut(ResponseModel):
    id: uuid.UUID
    subject_id: uuid.UUID
    kind: str
    status: str
    jurisdiction: str
    source: str
    verification_method: str | None
    received_at: datetime
    confirm_by: date | None
    confirmed_at: datetime | None
    confirmation_method: str | None
    confirmation_overdue: bool
    confirmation_late: bool
    original_due_on: date
    due_on: date
    days_left: int
    overdue: bool
    extensions: list[dict[str, Any]]
    extension_available: str | None
    extension_refusal: str | None
    extension_notice_by: date | None
    verified_at: datetime | None
    closed_at: datetime | None
    rejection_code: str | None
    outcome_reason: str | None
    items: list[dict[str, Any]]
    params: dict[str, Any]
    merged_count: int
    job_id: uuid.UUID | None
    has_certificate: bool


class RequestList(BaseModel):
    requests: list[RequestOut]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page"
    )


class DownloadLinkOut(BaseModel):
    url: str
    expires_at: datetime


class CertificateOut(BaseModel):
    certificate: str
    jwks_url: str


def _out(view: service.RequestView) -> dict[str, Any]:
    return RequestOut.model_validate(view).model_dump(mode="json")


# --- resources for the access decision ------------------------------------------------------------------------


def _filed_by(principal: Principal) -> str:
    return f"{principal.kind}:{principal.id}"


@resource_of("Request")
def request_resource(view_args: dict[str, Any]) -> Resource:
    """A request belongs to its subject (and, for the product backend, to the client that filed it)."""
    try:
        request_id = uuid.UUID(str(view_args.get("request_id")))
    except ValueError:
        return Resource(type="Request", id="invalid")
    owner = service.request_owner(get_session(), request_id)
    if owner is None:
        return Resource(type="Request", id=str(request_id))
    subject_id, filed_by = owner
    kind, _, filer = filed_by.partition(":")
    return Resource(
        type="Request",
        id=str(request_id),
        owner_subject_id=subject_id,
        owner_client_id=filer if kind == "client" else None,
    )


@resource_of("Subject", "Request")
def own_requests(_view_args: dict[str, Any]) -> Resource:
    """The collection of requests: a subject session reaches its own; others the whole collection."""
    principal = current_principal()
    if principal.kind == "subject" and principal.subject_id is not None:
        return Resource.subject(principal.subject_id)
    return Resource(type="Request")


@resource_of("Request")
def link_resource(view_args: dict[str, Any]) -> Resource:
    found = service.link_request(get_session(), str(view_args.get("token", "")))
    if found is None:
        return Resource(type="Request", id="unknown")
    request_id, subject_id = found
    return request_resource({"request_id": request_id}) if subject_id else Resource(type="Request")


def _visible(view: service.RequestView, principal: Principal, filed_by: str | None = None) -> None:
    """A client sees only what it filed; a subject only its own (policy checks it too)."""
    if principal.kind == "client" and filed_by != _filed_by(principal):
        raise RequestNotFoundError()
    if principal.kind == "subject" and view.subject_id != principal.subject_id:
        raise RequestNotFoundError()


def _load_visible(request_id: uuid.UUID) -> service.RequestView:
    session = get_session()
    principal = current_principal()
    owner = service.request_owner(session, request_id)
    if owner is None:
        raise RequestNotFoundError()
    view = service.get_request(session, request_id)
    _visible(view, principal, owner[1])
    return view


# --- routes --------------------------------------------------------------------------------------------------


def _resolve_subject(principal: Principal, body: FileRequestBody) -> tuple[uuid.UUID, str, str | None]:
    """(subject id, source, verification method) for the caller."""
    if principal.kind == "subject":
        if principal.subject_id is None or (body.subject_id not in (None, principal.subject_id)):
            raise NotFoundError()
        if body.external_ref is not None:
            raise ValidationFailedError(fields={"external_ref": "not accepted from a subject session"})
        return principal.subject_id, "subject", "session"
    if principal.kind not in ("client", "staff"):
        raise ForbiddenError()
    if (body.subject_id is None) == (body.external_ref is None):
        raise ValidationFailedError(fields={"subject_id": "give exactly one of subject_id and external_ref"})
    subject_id = body.subject_id
    if subject_id is None:
        found = vault.find_subject(get_session(), external_ref=body.external_ref)
        if found is None:
            raise NotFoundError("No such data subject.", code="subject_not_found")
        subject_id = found.id
    access.authorize(principal, "dsr.create", Resource.subject(subject_id))
    if principal.kind == "client" and not body.verification_method:
        raise ValidationFailedError(
            "Say how you verified the person's identity.", fields={"verification_method": "required"}
        )
    return subject_id, principal.kind, body.verification_method


@bp.post("/requests", responses={201: RequestOut, 200: RequestOut})
@requires("dsr.create", resource=own_requests)
def file_request(body: FileRequestBody) -> tuple[dict[str, Any], int]:
    """File a data subject request; a duplicate of an open request of the same kind is merged into it (200)."""
    principal = current_principal()
    subject_id, source, method = _resolve_subject(principal, body)
    params: dict[str, Any] = {}
    if body.purposes is not None:
        params["purposes"] = body.purposes
    if body.fields is not None:
        params["fields"] = body.fields
    with transaction() as session:
        filed = service.file_request(
            session,
            subject_id=subject_id,
            kind=body.kind,
            actor=principal,
            source=source,  # type: ignore[arg-type]
            verification_method=method,
            params=params,
        )
    return _out(filed.request), 200 if filed.merged else 201


@bp.get("/requests", responses={200: RequestList})
@requires("dsr.read", resource=own_requests)
def list_requests(query: ListQuery) -> dict[str, Any]:
    """Requests visible to the caller, newest first (staff may filter; `overdue=true` lists late ones)."""
    principal = current_principal()
    after = decode_cursor(query.cursor) if query.cursor is not None else None
    # one row more than the page tells whether another page follows (no empty last page)
    filters: dict[str, Any] = {"status": query.status, "kind": query.kind, "limit": query.limit + 1, "after": after}
    if principal.kind == "subject":
        filters["subject_id"] = principal.subject_id
    elif principal.kind == "client":
        filters.update(subject_id=query.subject_id, filed_by=_filed_by(principal))
    else:
        if query.overdue and after is not None:
            raise ValidationFailedError("The overdue list is not paged.", fields={"cursor": "not with overdue"})
        filters.update(subject_id=query.subject_id, overdue_only=query.overdue)
    views = service.list_requests(get_session(), **filters)
    page, more = views[: query.limit], len(views) > query.limit
    next_cursor = encode_cursor(page[-1].received_at, page[-1].id) if more and page else None
    return {"requests": [_out(v) for v in page], "next_cursor": next_cursor}


@bp.get("/requests/overdue", responses={200: RequestList})
@requires("dsr.read")
def overdue_requests() -> dict[str, Any]:
    """Open requests past their legal due date (DPO and auditors)."""
    if current_principal().kind != "staff":
        raise ForbiddenError()
    return {"requests": [_out(v) for v in service.overdue(get_session())]}


@bp.get("/requests/<request_id>", responses={200: RequestOut})
@requires("dsr.read", resource=request_resource)
def get_request(path: RequestPath) -> dict[str, Any]:
    return _out(_load_visible(path.request_id))


@bp.post("/requests/<request_id>/verify", responses={200: RequestOut, 409: ErrorBody})
@requires("dsr.manage", resource=request_resource)
def verify_request(path: RequestPath, body: VerifyBody) -> dict[str, Any]:
    """Staff record how they verified the requester's identity; the request starts."""
    with transaction() as session:
        view = service.verify_request(session, path.request_id, method=body.method, actor=current_principal())
    return _out(view)


@bp.post("/requests/<request_id>/confirm", responses={200: RequestOut, 409: ErrorBody})
@requires("dsr.manage", resource=request_resource)
def confirm_request(path: RequestPath, body: ConfirmBody) -> dict[str, Any]:
    """Staff record that they confirmed receipt to the requester (CCPA: within 10 business days)."""
    with transaction() as session:
        view = service.confirm_request(session, path.request_id, method=body.method, actor=current_principal())
    return _out(view)


@bp.post("/requests/<request_id>/extend", responses={200: RequestOut, 409: ErrorBody})
@requires("dsr.manage", resource=request_resource)
def extend_request(path: RequestPath, body: ExtendBody) -> dict[str, Any]:
    """Extend the deadline within the legal maximum, with the reason sent to the subject."""
    with transaction() as session:
        view = service.extend_request(
            session,
            path.request_id,
            amount=body.amount,
            reason=body.reason,
            notified_on=body.notified_on,
            actor=current_principal(),
        )
    return _out(view)


@bp.post("/requests/<request_id>/reject", responses={200: RequestOut, 409: ErrorBody})
@requires("dsr.manage", resource=request_resource)
def reject_request(path: RequestPath, body: RejectBody) -> dict[str, Any]:
    with transaction() as session:
        view = service.reject_request(session, path.request_id, code=body.code, actor=current_principal())
    return _out(view)


@bp.post("/requests/<request_id>/download-links", responses={201: DownloadLinkOut, 409: ErrorBody})
@requires("dsr.download", resource=request_resource)
def issue_download_link(path: RequestPath) -> tuple[dict[str, Any], int]:
    """A download link for a finished export, valid for minutes and for the first session that uses it."""
    _load_visible(path.request_id)
    with transaction() as session:
        token, expires_at = service.issue_download_link(session, path.request_id, actor=current_principal())
    base = current_app.extensions["governance.settings"].base_url
    return {"url": f"{base}/api/v1/requests/downloads/{token}", "expires_at": expires_at.isoformat()}, 201


@bp.get("/requests/downloads/<token>", responses={200: file_response("application/zip"), 410: ErrorBody})
@requires("dsr.download", resource=link_resource)
def download(path: TokenPath) -> Response:
    """The export bundle (ZIP). 404 for another session's link, 410 once expired or deleted."""
    with transaction() as session:
        content, filename = service.open_download(session, path.token, actor=current_principal())
    response = Response(content, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/requests/<request_id>/certificate", responses={200: CertificateOut})
@requires("dsr.read", resource=request_resource)
def erasure_certificate(path: RequestPath) -> dict[str, Any]:
    """The signed erasure certificate (compact JWS); verify it with the keys at /requests/certificate-keys."""
    _load_visible(path.request_id)
    token = service.certificate_of(get_session(), path.request_id)
    base = current_app.extensions["governance.settings"].base_url
    return {"certificate": token, "jwks_url": f"{base}/api/v1/requests/certificate-keys"}


@bp.get("/requests/certificate-keys", responses={200: json_object_response("keys")})
@public("public keys that verify erasure certificates; anyone holding a certificate may check it")
def certificate_keys() -> dict[str, Any]:
    return service.certificate_jwks()


@bp.get("/requests/export-schema", responses={200: json_object_response()})
@public("the JSON Schema of the export bundle is documentation and holds no data")
def export_schema() -> dict[str, Any]:
    return json_schema()
