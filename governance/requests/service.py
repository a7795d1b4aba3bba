"""Data subject requests: filing, lifecycle, deadlines, export, erasure, rectification, objection, downloads.

Functions take the session first and never commit: the route or job handler owns the transaction, so that every
state change and its audit entry commit together. Other domains are reached only through their contract
functions (docs/contracts.md), imported inside functions so that the layering holds at import time too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import secrets
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from flask import current_app
from prometheus_client import Gauge
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import Principal
from governance.db import utcnow
from governance.errors import DomainError, ValidationFailedError
from governance.requests import bundle as bundles
from governance.requests import certificate as certificates
from governance.requests.crashpoints import crash_point
from governance.requests.deadlines import (
    Period,
    compute_deadlines,
    deadline_status,
    plan_extension,
    receipt_date,
)
from governance.requests.errors import (
    DownloadLinkGoneError,
    InvalidTransitionError,
    RequestNotFoundError,
    SubjectAlreadyErasedError,
    UnknownRequestKindError,
)
from governance.requests.lifecycle import (
    CLOSED,
    OPEN,
    ItemOutcome,
    RequestKind,
    Status,
    check_transition,
    outcome_status,
)
from governance.requests.models import DataSubjectRequest, DownloadLink, ExportBundle
from governance.requests.policy import RequestsPolicy

__all__ = [
    "FiledRequest",
    "RequestView",
    "extend_request",
    "file_request",
    "get_request",
    "issue_download_link",
    "list_requests",
    "open_download",
    "overdue",
    "purge_expired_bundles",
    "reject_request",
    "requests_for_subject",
    "sweep_overdue",
    "verify_request",
]

POLICY_EXTENSION = "governance.requests.policy"
BUNDLE_KEK = "requests_bundle_kek"
CERTIFICATE_KEY = "requests_certificate"
EXPORT_JOB = "requests.export"
ERASURE_JOB = "requests.erasure"
#: the webhook event processors subscribe to for erasures (payload: request_id only)
ERASURE_EVENT = "subject.erased"
WORKER = Principal.system("requests.worker")

Source = Literal["subject", "client", "staff"]

OVERDUE_GAUGE = Gauge(
    "governance_requests_overdue", "Open data subject requests past their legal due date", ["jurisdiction"]
)


# --- views ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestView:
    """A request as callers see it. Holds no personal data beyond the subject-readable outcome text."""

    id: uuid.UUID
    subject_id: uuid.UUID
    kind: str
    status: str
    jurisdiction: str
    source: str
    verification_method: str | None
    received_at: datetime
    received_on: date
    confirm_by: date | None
    original_due_on: date
    due_on: date
    days_left: int
    overdue: bool
    extensions: list[dict[str, Any]]
    extension_available: str | None
    verified_at: datetime | None
    closed_at: datetime | None
    rejection_code: str | None
    outcome_reason: str | None
    items: list[dict[str, Any]]
    params: dict[str, Any]
    merged_count: int
    step: str
    job_id: uuid.UUID | None
    has_certificate: bool
    result: dict[str, Any]


@dataclass(frozen=True)
class FiledRequest:
    request: RequestView
    merged: bool


def get_policy() -> RequestsPolicy:
    return current_app.extensions[POLICY_EXTENSION]


def _today(row: DataSubjectRequest, policy: RequestsPolicy, now: datetime) -> date:
    return receipt_date(now, policy.rule(row.jurisdiction))


def _view(row: DataSubjectRequest, policy: RequestsPolicy, now: datetime | None = None) -> RequestView:
    now = now or utcnow()
    rule = policy.rule(row.jurisdiction)
    closed_on = receipt_date(row.closed_at, rule) if row.closed_at else None
    status = deadline_status(row.due_on, receipt_date(now, rule), closed_on=closed_on)
    deadlines = compute_deadlines(rule, row.received_on, [_period(e) for e in row.extensions])
    available = deadlines.extension_available if row.status in OPEN else None
    return RequestView(
        id=row.id,
        subject_id=row.subject_id,
        kind=row.kind,
        status=row.status,
        jurisdiction=row.jurisdiction,
        source=row.source,
        verification_method=row.verification_method,
        received_at=row.received_at,
        received_on=row.received_on,
        confirm_by=row.confirm_by,
        original_due_on=row.original_due_on,
        due_on=row.due_on,
        days_left=status.days_left,
        overdue=status.overdue,
        extensions=list(row.extensions),
        extension_available=str(available) if available else None,
        verified_at=row.verified_at,
        closed_at=row.closed_at,
        rejection_code=row.rejection_code,
        outcome_reason=row.outcome_reason,
        items=list(row.outcome_items),
        params=dict(row.params),
        merged_count=row.merged_count,
        step=row.step,
        job_id=row.job_id,
        has_certificate=row.certificate is not None,
        result=dict(row.result),
    )


def _period(extension: Mapping[str, Any]) -> Period:
    return Period(int(extension["amount"]), extension["unit"])


# --- lifecycle helpers ---------------------------------------------------------------------------------------


def _target(row: DataSubjectRequest) -> tuple[str, uuid.UUID]:
    return ("request", row.id)


def _transition(
    session: Session,
    row: DataSubjectRequest,
    target: Status,
    *,
    actor: Principal,
    now: datetime,
    reason: str | None = None,
    items: Iterable[ItemOutcome] = (),
    details: Mapping[str, Any] | None = None,
) -> None:
    """Move `row` to `target` and add the audit entry to the same transaction."""
    items = list(items)
    check_transition(row.status, target, reason=reason, items=items)
    previous = row.status
    row.status = target.value
    if target is Status.VERIFIED:
        row.verified_at = now
    elif target is Status.IN_PROGRESS:
        row.started_at = now
    elif target in CLOSED:
        row.closed_at = now
        row.open_key = None  # a new request of this kind may be filed from now on
        row.outcome_items = [item.as_dict() for item in items]
        if reason is not None:
            row.outcome_reason = reason
    audit.record(
        session,
        actor=actor,
        action=f"requests.request.{target.value}",
        target=_target(row),
        details={"kind": row.kind, "from": previous, "subject_id": str(row.subject_id), **(details or {})},
    )


def _lock(session: Session, request_id: uuid.UUID) -> DataSubjectRequest:
    row = session.scalars(
        select(DataSubjectRequest).where(DataSubjectRequest.id == request_id).with_for_update()
    ).first()
    if row is None:
        raise RequestNotFoundError()
    return row


def _check_subject(session: Session, subject_id: uuid.UUID) -> Any:
    """The vault's view of the subject; an erased subject gives `already_erased`, an unknown one 404."""
    from governance.vault import service as vault

    try:
        return vault.get_subject(session, subject_id)
    except DomainError as exc:
        if type(exc).__name__ == "SubjectErasedError" or exc.code in {"subject_erased", "already_erased"}:
            raise SubjectAlreadyErasedError() from None
        raise


# --- filing --------------------------------------------------------------------------------------------------


def file_request(
    session: Session,
    *,
    subject_id: uuid.UUID,
    kind: str,
    actor: Principal,
    source: Source,
    verification_method: str | None,
    params: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    policy: RequestsPolicy | None = None,
) -> FiledRequest:
    """File a request (or merge it into the open one of the same kind) and start what can start now.

    - verified at once when `verification_method` is given (a subject session always is);
    - access/portability and erasure are queued as durable jobs;
    - rectification (`params["fields"]`: field -> new value) and objection (`params["purposes"]`) are applied
      in this same transaction and the request is closed.

    Raises `UnknownRequestKindError` (422), `SubjectAlreadyErasedError` (404 `already_erased`), the vault's
    `SubjectNotFoundError` (404), `ValidationFailedError` for missing or bad parameters.
    """
    now = now or utcnow()
    policy = policy or get_policy()
    try:
        request_kind = RequestKind(kind)
    except ValueError:
        raise UnknownRequestKindError("Kind must be one of: " + ", ".join(k.value for k in RequestKind) + ".") from None
    params = dict(params or {})
    _validate_params(request_kind, params, verification_method)
    subject = _check_subject(session, subject_id)

    existing = _open_duplicate(session, subject_id, request_kind)
    if existing is not None:
        return FiledRequest(_merge(session, existing, actor=actor, source=source, now=now, policy=policy), True)

    jurisdiction = policy.jurisdiction_for(getattr(subject, "jurisdiction", None))
    rule = policy.rule(jurisdiction)
    received_on = receipt_date(now, rule)
    deadlines = compute_deadlines(rule, received_on)
    row = DataSubjectRequest(
        id=uuid.uuid4(),
        subject_id=subject_id,
        kind=request_kind.value,
        status=Status.RECEIVED.value,
        jurisdiction=jurisdiction,
        source=source,
        filed_by=f"{actor.kind}:{actor.id}",
        verification_method=verification_method,
        received_at=now,
        received_on=received_on,
        confirm_by=deadlines.confirm_by,
        original_due_on=deadlines.original_due,
        due_on=deadlines.due,
        extensions=[],
        outcome_items=[],
        params=_stored_params(request_kind, params),
        open_key=f"{subject_id}:{request_kind.value}",
        merged_count=0,
        step="new",
        result={},
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # another transaction filed the same kind for this subject a moment ago: merge into it
        existing = _open_duplicate(session, subject_id, request_kind)
        if existing is None:
            raise
        return FiledRequest(_merge(session, existing, actor=actor, source=source, now=now, policy=policy), True)
    audit.record(
        session,
        actor=actor,
        action="requests.request.received",
        target=_target(row),
        details={
            "kind": row.kind,
            "source": source,
            "jurisdiction": jurisdiction,
            "subject_id": str(subject_id),
            # days rather than dates: the audit log refuses digit runs that could be phone numbers
            "days_to_respond": (row.due_on - row.received_on).days,
        },
    )
    if verification_method:
        _transition(session, row, Status.VERIFIED, actor=actor, now=now, details={"method": verification_method})
        _start(session, row, actor=actor, now=now, params=params, policy=policy)
    session.flush()
    return FiledRequest(_view(row, policy, now), False)


_VERIFICATION_METHOD_MAX = 60


def _validate_params(kind: RequestKind, params: Mapping[str, Any], verification_method: str | None) -> None:
    if verification_method is not None and not (0 < len(verification_method) <= _VERIFICATION_METHOD_MAX):
        raise ValidationFailedError(fields={"verification_method": "1 to 60 characters"})
    allowed = {RequestKind.RECTIFICATION: {"fields"}, RequestKind.OBJECTION: {"purposes"}}.get(kind, set())
    unknown = set(params) - allowed
    if unknown:
        raise ValidationFailedError(fields=dict.fromkeys(unknown, f"not a parameter of a {kind.value} request"))
    if kind is RequestKind.RECTIFICATION:
        fields = params.get("fields")
        if not isinstance(fields, dict) or not fields:
            raise ValidationFailedError(fields={"fields": "name the fields to correct and their new values"})
        if not verification_method:
            # the new values are personal data: they are applied at once and never parked unverified
            raise ValidationFailedError(fields={"verification_method": "required for rectification"})
    if kind is RequestKind.OBJECTION:
        purposes = params.get("purposes")
        if not isinstance(purposes, list) or not purposes or not all(isinstance(p, str) for p in purposes):
            raise ValidationFailedError(fields={"purposes": "name at least one purpose"})


def _stored_params(kind: RequestKind, params: Mapping[str, Any]) -> dict[str, Any]:
    """What is kept of the parameters: purposes, and only the *names* of rectified fields (never values)."""
    if kind is RequestKind.RECTIFICATION:
        return {"fields": sorted(params["fields"])}
    if kind is RequestKind.OBJECTION:
        return {"purposes": sorted(set(params["purposes"]))}
    return {}


def _open_duplicate(session: Session, subject_id: uuid.UUID, kind: RequestKind) -> DataSubjectRequest | None:
    return session.scalars(
        select(DataSubjectRequest).where(DataSubjectRequest.open_key == f"{subject_id}:{kind.value}").with_for_update()
    ).first()


def _merge(
    session: Session,
    row: DataSubjectRequest,
    *,
    actor: Principal,
    source: Source,
    now: datetime,
    policy: RequestsPolicy,
) -> RequestView:
    row.merged_count += 1
    audit.record(
        session,
        actor=actor,
        action="requests.request.merged",
        target=_target(row),
        details={"kind": row.kind, "source": source, "merged_count": row.merged_count},
    )
    session.flush()
    return _view(row, policy, now)


def _start(
    session: Session,
    row: DataSubjectRequest,
    *,
    actor: Principal,
    now: datetime,
    params: Mapping[str, Any],
    policy: RequestsPolicy,
) -> None:
    """verified -> in_progress, then queue the job or apply the change at once."""
    from governance import jobs

    kind = RequestKind(row.kind)
    _transition(session, row, Status.IN_PROGRESS, actor=actor, now=now)
    if kind in (RequestKind.ACCESS, RequestKind.PORTABILITY, RequestKind.ERASURE):
        job_kind = ERASURE_JOB if kind is RequestKind.ERASURE else EXPORT_JOB
        row.job_id = jobs.enqueue(
            session,
            job_kind,
            {"request_id": str(row.id)},
            dedupe_key=f"{job_kind}:{row.id}",
            created_by=f"{actor.kind}:{actor.id}",
        )
        row.step = "queued"
        return
    if kind is RequestKind.RECTIFICATION:
        _rectify(session, row, params["fields"], actor=actor, now=now)
    else:
        _object(session, row, row.params["purposes"], actor=actor, now=now)


def _rectify(
    session: Session, row: DataSubjectRequest, fields: Mapping[str, Any], *, actor: Principal, now: datetime
) -> None:
    from governance.vault import service as vault

    changed = set(vault.update_profile(session, row.subject_id, dict(fields), actor=actor))
    items = [
        ItemOutcome(name, done=True, reason=None if name in changed else "already held this value")
        for name in sorted(fields)
    ]
    row.result = {"changed": sorted(changed), "unchanged": sorted(set(fields) - changed)}
    row.step = "done"
    _transition(
        session, row, outcome_status(items), actor=actor, now=now, items=items, details={"fields_changed": len(changed)}
    )


def _object(session: Session, row: DataSubjectRequest, purposes: list[str], *, actor: Principal, now: datetime) -> None:
    """Objection/restriction takes effect at once for every named purpose (marketing without any balancing)."""
    from governance.consent import service as consent

    consent.object_to(session, row.subject_id, list(purposes), actor=actor)
    items = [ItemOutcome(f"purpose:{p}", done=True) for p in purposes]
    row.result = {"purposes": list(purposes)}
    row.step = "done"
    _transition(session, row, Status.COMPLETED, actor=actor, now=now, items=items, details={"purposes": list(purposes)})


# --- staff actions -------------------------------------------------------------------------------------------


def verify_request(
    session: Session,
    request_id: uuid.UUID,
    *,
    method: str,
    actor: Principal,
    now: datetime | None = None,
    policy: RequestsPolicy | None = None,
) -> RequestView:
    """Record how staff verified the requester's identity, and start the request."""
    now, policy = now or utcnow(), policy or get_policy()
    if not method or len(method) > _VERIFICATION_METHOD_MAX:
        raise ValidationFailedError(fields={"method": "1 to 60 characters"})
    row = _lock(session, request_id)
    if row.kind == RequestKind.RECTIFICATION.value:
        raise InvalidTransitionError("A rectification is verified when it is filed.")
    if row.status != Status.RECEIVED.value:
        raise InvalidTransitionError("Only a received request can be verified.")
    _check_subject(session, row.subject_id)
    row.verification_method = method
    _transition(session, row, Status.VERIFIED, actor=actor, now=now, details={"method": method})
    _start(session, row, actor=actor, now=now, params=row.params, policy=policy)
    session.flush()
    return _view(row, policy, now)


def reject_request(
    session: Session,
    request_id: uuid.UUID,
    *,
    code: str,
    actor: Principal,
    now: datetime | None = None,
    policy: RequestsPolicy | None = None,
) -> RequestView:
    """Reject with one of the policy's reasons; the subject reads its text. Running jobs see it and stop."""
    now, policy = now or utcnow(), policy or get_policy()
    text = policy.rejection_reasons.get(code)
    if text is None:
        raise ValidationFailedError(
            fields={"code": "one of " + ", ".join(sorted(policy.rejection_reasons))}, code="unknown_reason"
        )
    row = _lock(session, request_id)
    if row.kind == RequestKind.ERASURE.value and row.step not in ("new", "queued"):
        raise InvalidTransitionError("The erasure has already been carried out.")
    row.rejection_code = code
    _transition(session, row, Status.REJECTED, actor=actor, now=now, reason=text, details={"code": code})
    session.flush()
    return _view(row, policy, now)


def extend_request(
    session: Session,
    request_id: uuid.UUID,
    *,
    amount: int,
    reason: str | None,
    actor: Principal,
    notified_on: date | None = None,
    now: datetime | None = None,
    policy: RequestsPolicy | None = None,
) -> RequestView:
    """Extend the deadline (in the jurisdiction's unit) with a reason that is sent to the subject now.

    Raises `ExtensionNotAllowedError` (422) without a reason, past the legal maximum, or after the first period.
    """
    now, policy = now or utcnow(), policy or get_policy()
    row = _lock(session, request_id)
    if row.status not in OPEN:
        raise InvalidTransitionError("A closed request cannot be extended.")
    rule = policy.rule(row.jurisdiction)
    unit = rule.respond_within.unit
    notified_on = notified_on or receipt_date(now, rule)
    granted = [_period(e) for e in row.extensions]
    deadlines = plan_extension(
        rule, row.received_on, granted, Period(amount, unit), reason=reason, notified_on=notified_on
    )
    row.extensions = [
        *row.extensions,
        {
            "amount": amount,
            "unit": unit,
            "reason": (reason or "").strip(),
            "notified_on": notified_on.isoformat(),
            "by": f"{actor.kind}:{actor.id}",
            "at": now.isoformat(),
        },
    ]
    row.due_on = deadlines.due
    row.overdue_alerted_at = None
    audit.record(
        session,
        actor=actor,
        action="requests.request.extended",
        target=_target(row),
        details={"amount": amount, "unit": unit, "days_to_respond": (row.due_on - row.received_on).days},
    )
    session.flush()
    return _view(row, policy, now)


# --- reading -------------------------------------------------------------------------------------------------


def get_request(session: Session, request_id: uuid.UUID, *, policy: RequestsPolicy | None = None) -> RequestView:
    row = session.get(DataSubjectRequest, request_id)
    if row is None:
        raise RequestNotFoundError()
    return _view(row, policy or get_policy())


def request_owner(session: Session, request_id: uuid.UUID) -> tuple[uuid.UUID, str] | None:
    """(subject id, filed_by) of a request, for access decisions; None when unknown."""
    row = session.execute(
        select(DataSubjectRequest.subject_id, DataSubjectRequest.filed_by).where(DataSubjectRequest.id == request_id)
    ).first()
    return (row[0], row[1]) if row else None


def list_requests(
    session: Session,
    *,
    subject_id: uuid.UUID | None = None,
    filed_by: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    overdue_only: bool = False,
    limit: int = 100,
    policy: RequestsPolicy | None = None,
) -> list[RequestView]:
    """Requests, newest first, filtered; `overdue_only` keeps open requests past their due date."""
    policy = policy or get_policy()
    query = select(DataSubjectRequest).order_by(DataSubjectRequest.received_at.desc()).limit(limit)
    if subject_id is not None:
        query = query.where(DataSubjectRequest.subject_id == subject_id)
    if filed_by is not None:
        query = query.where(DataSubjectRequest.filed_by == filed_by)
    if status is not None:
        query = query.where(DataSubjectRequest.status == status)
    if kind is not None:
        query = query.where(DataSubjectRequest.kind == kind)
    if overdue_only:
        return overdue(session, policy=policy)[:limit]
    return [_view(row, policy) for row in session.scalars(query)]


def requests_for_subject(session: Session, subject_id: uuid.UUID) -> list[RequestView]:
    """Every request of one subject, newest first (contract: dashboard and export)."""
    policy = get_policy()
    rows = session.scalars(
        select(DataSubjectRequest)
        .where(DataSubjectRequest.subject_id == subject_id)
        .order_by(DataSubjectRequest.received_at.desc())
    )
    return [_view(row, policy) for row in rows]


def overdue(
    session: Session, *, now: datetime | None = None, policy: RequestsPolicy | None = None
) -> list[RequestView]:
    """Open requests past their due date in their jurisdiction's calendar, most overdue first (contract)."""
    now, policy = now or utcnow(), policy or get_policy()
    # a due date is a calendar day of its jurisdiction: compare with the latest "today" anywhere, then refine
    earliest_today = min(receipt_date(now, policy.rule(name)) for name in policy.jurisdictions)
    rows = session.scalars(
        select(DataSubjectRequest)
        .where(
            DataSubjectRequest.status.in_([s.value for s in OPEN]),
            DataSubjectRequest.due_on < earliest_today + timedelta(days=1),
        )
        .order_by(DataSubjectRequest.due_on)
    )
    views = [_view(row, policy, now) for row in rows]
    late = [v for v in views if v.overdue]
    counts: dict[str, int] = dict.fromkeys(policy.jurisdictions, 0)
    for view in late:
        counts[view.jurisdiction] = counts.get(view.jurisdiction, 0) + 1
    for name, count in counts.items():
        OVERDUE_GAUGE.labels(name).set(count)
    return late


def sweep_overdue(session: Session, *, now: datetime | None = None) -> int:
    """Raise the overdue alert once per request (an audit entry the DPO and auditors search on)."""
    now = now or utcnow()
    alerted = 0
    for view in overdue(session, now=now):
        row = _lock(session, view.id)
        if row.overdue_alerted_at is not None:
            continue
        row.overdue_alerted_at = now
        audit.record(
            session,
            actor=WORKER,
            action="requests.request.overdue",
            target=_target(row),
            details={"kind": row.kind, "days_late": -view.days_left},
        )
        alerted += 1
    session.flush()
    return alerted


# --- export --------------------------------------------------------------------------------------------------


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # shallow on purpose: asdict() deep-copies every nested value, too slow for 10,000 events
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return dict(vars(value))


def _pick(data: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if data.get(name) is not None:
            return data[name]
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _event_row(event: Any) -> dict[str, Any]:
    data = _as_dict(event)
    return {
        "id": str(_pick(data, "event_id", "id")),
        "category": str(_pick(data, "category")),
        "occurred_at": _pick(data, "occurred_at"),
        "data": {
            "item_id": data.get("item_id"),
            "value": data.get("value"),
            "context": dict(data.get("context") or {}),
        },
    }


def _decision_row(event: Any) -> dict[str, Any]:
    data = _as_dict(event)
    return {
        "purpose": str(_pick(data, "purpose")),
        "decision": str(_pick(data, "decision")),
        "notice_version": _text(_pick(data, "notice_version")),
        "method": _text(_pick(data, "method")),
        "occurred_at": _pick(data, "collected_at", "recorded_at"),
        "receipt_id": _text(_pick(data, "id")),
    }


def _receipt_row(receipt: Any) -> dict[str, Any]:
    data = _as_dict(receipt)
    raw_body = data.get("receipt")
    body: Mapping[str, Any] = raw_body if isinstance(raw_body, Mapping) else {}
    issued = _pick(body, "iat", "issued_at")
    return {
        "receipt_id": str(_pick(data, "record_id", "id")),
        "issued_at": datetime.fromtimestamp(issued, tz=UTC) if isinstance(issued, int | float) else issued,
        "content": data,
    }


def _release_row(release: Any) -> dict[str, Any]:
    data = _as_dict(release)
    return {
        "release_id": str(_pick(data, "release_id", "id")),
        "purpose": str(_pick(data, "purpose")),
        "released_at": _pick(data, "released_at", "completed_at", "created_at"),
        "recipient": _text(_pick(data, "client_id", "recipient", "client")),
    }


def _model_row(model: Any) -> dict[str, Any]:
    data = _as_dict(model)
    return {
        "model_id": str(_pick(data, "model_id", "id", "job_id")),
        "purpose": str(_pick(data, "purpose")),
        "trained_at": _pick(data, "trained_at", "finished_at", "created_at"),
        "status": _text(_pick(data, "status")),
        "flagged": _pick(data, "flagged", "erased_data_flag"),
    }


def _request_row(view: RequestView) -> dict[str, Any]:
    return {
        "id": str(view.id),
        "kind": view.kind,
        "status": view.status,
        "received_at": view.received_at,
        "due_on": view.due_on.isoformat(),
        "closed_at": view.closed_at,
    }


def collect_export(session: Session, row: DataSubjectRequest, *, now: datetime) -> bundles.ExportContent:
    """Gather the subject's data through the other domains' contract functions (events stay a stream)."""
    from governance.consent import service as consent
    from governance.gateway import service as gateway
    from governance.training import service as training
    from governance.vault import service as vault

    subject = _check_subject(session, row.subject_id)
    subject_data = _as_dict(subject)
    # the worker reads in clear on the subject's own request (audited by the vault as vault.profile.read_clear)
    profile = vault.read_profile(session, row.subject_id, actor=WORKER, view="clear")["fields"]
    events: Iterator[dict[str, Any]] = (_event_row(e) for e in vault.iter_events(session, row.subject_id))
    return bundles.ExportContent(
        generated_at=now,
        request={"id": str(row.id), "kind": row.kind, "received_at": row.received_at, "jurisdiction": row.jurisdiction},
        subject={
            "id": str(row.subject_id),
            "jurisdiction": _text(subject_data.get("jurisdiction")),
            "created_at": subject_data.get("created_at"),
        },
        profile=profile,
        consent_decisions=[_decision_row(e) for e in consent.history(session, row.subject_id)],
        consent_receipts=[_receipt_row(r) for r in consent.receipts(session, row.subject_id)],
        events=events,
        requests=[_request_row(v) for v in requests_for_subject(session, row.subject_id)],
        dataset_releases=[_release_row(r) for r in gateway.releases_including(session, row.subject_id)],
        training_jobs=[_model_row(m) for m in training.models_including(session, row.subject_id)],
    )


def run_export(session: Session, request_id: uuid.UUID, *, now: datetime | None = None) -> dict[str, Any]:
    """The export job's one step, in the caller's transaction: build, seal and store the bundle, close the
    request. Idempotent: a request already past this step (or no longer in progress) is left as it is."""
    now, policy = now or utcnow(), get_policy()
    row = _lock(session, request_id)
    if row.status != Status.IN_PROGRESS.value or row.step == "done":
        return {"request_id": str(row.id), "skipped": row.status}
    try:
        content = collect_export(session, row, now=now)
    except SubjectAlreadyErasedError:
        # the subject's erasure finished first: there is nothing left to export, and the subject is told why
        row.rejection_code, row.step = "subject_erased", "done"
        _transition(
            session, row, Status.REJECTED, actor=WORKER, now=now, reason=policy.rejection_reasons["subject_erased"]
        )
        return {"request_id": str(row.id), "rejected": "subject_erased"}
    plain = io.BytesIO()
    written = bundles.write_bundle(content, plain)
    crash_point("export:collected")
    bundle_id = uuid.uuid4()
    key = bundles.new_bundle_key()
    sealed = io.BytesIO()
    plain.seek(0)
    bundles.seal(plain, sealed, key, bundle_id)
    keys = current_app.extensions["governance.keys"]
    session.add(
        ExportBundle(
            id=bundle_id,
            request_id=row.id,
            subject_id=row.subject_id,
            sealed=sealed.getvalue(),
            wrapped_key=bundles.wrap_bundle_key(keys.secret(BUNDLE_KEK), key, bundle_id),
            kek_name=BUNDLE_KEK,
            size=written.size,
            event_count=written.event_count,
            created_at=now,
            expires_at=now + timedelta(days=policy.export.bundle_retention_days),
        )
    )
    crash_point("export:sealed")
    row.step = "done"
    row.result = {
        "bundle_id": str(bundle_id),
        "events": written.event_count,
        "size": written.size,
        "expires_at": (now + timedelta(days=policy.export.bundle_retention_days)).isoformat(),
    }
    items = [ItemOutcome(entry.name, done=True) for entry in written.files]
    audit.record(
        session,
        actor=WORKER,
        action="requests.bundle.created",
        target=("bundle", bundle_id),
        details={"request_id": str(row.id), "events": written.event_count, "bytes": written.size},
    )
    _transition(session, row, Status.COMPLETED, actor=WORKER, now=now, items=items)
    session.flush()
    return {"request_id": str(row.id), "bundle_id": str(bundle_id), "events": written.event_count}


# --- downloads -----------------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _principal_ref(actor: Principal) -> str:
    return f"{actor.kind}:{actor.id}"


def issue_download_link(
    session: Session, request_id: uuid.UUID, *, actor: Principal, now: datetime | None = None
) -> tuple[str, datetime]:
    """A fresh one-session download token for a completed export; returns (token, expires_at).

    The token is returned once and stored only as a hash. Raises `RequestNotFoundError` or
    `DownloadLinkGoneError` when there is no bundle (yet, or any more)."""
    now, policy = now or utcnow(), get_policy()
    row = session.get(DataSubjectRequest, request_id)
    if row is None or row.kind not in (RequestKind.ACCESS.value, RequestKind.PORTABILITY.value):
        raise RequestNotFoundError()
    found = session.scalars(select(ExportBundle).where(ExportBundle.request_id == request_id)).first()
    if found is None:
        raise InvalidTransitionError("The export is not ready yet.", code="export_not_ready")
    if found.deleted_at is not None or found.expires_at <= now:
        raise DownloadLinkGoneError("The export was deleted after its retention period.")
    token = secrets.token_urlsafe(32)
    expires_at = min(now + timedelta(minutes=policy.export.download_link_minutes), found.expires_at)
    session.add(
        DownloadLink(
            id=uuid.uuid4(),
            bundle_id=found.id,
            token_hash=_token_hash(token),
            issued_to=_principal_ref(actor),
            expires_at=expires_at,
            uses=0,
            created_at=now,
        )
    )
    audit.record(
        session,
        actor=actor,
        action="requests.link.issued",
        target=_target(row),
        details={"bundle_id": str(found.id), "valid_seconds": int((expires_at - now).total_seconds())},
    )
    session.flush()
    return token, expires_at


def link_request(session: Session, token: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(request id, subject id) behind a download token, for the access decision; None when unknown."""
    row = session.execute(
        select(ExportBundle.request_id, ExportBundle.subject_id)
        .join(DownloadLink, DownloadLink.bundle_id == ExportBundle.id)
        .where(DownloadLink.token_hash == _token_hash(token))
    ).first()
    return (row[0], row[1]) if row else None


def open_download(session: Session, token: str, *, actor: Principal, now: datetime | None = None) -> tuple[bytes, str]:
    """Decrypt the bundle behind `token` for `actor`: (zip bytes, file name).

    The first session to use a link owns it; another session gets 404 (`RequestNotFoundError`), an expired
    link or a deleted bundle 410 (`DownloadLinkGoneError`)."""
    now = now or utcnow()
    link = session.scalars(
        select(DownloadLink).where(DownloadLink.token_hash == _token_hash(token)).with_for_update()
    ).first()
    if link is None:
        raise RequestNotFoundError()
    who = _principal_ref(actor)
    if link.bound_to is not None and link.bound_to != who:
        raise RequestNotFoundError()
    if link.expires_at <= now:
        raise DownloadLinkGoneError()
    found = session.get(ExportBundle, link.bundle_id)
    if found is None or found.sealed is None or found.wrapped_key is None or found.expires_at <= now:
        raise DownloadLinkGoneError("The export was deleted after its retention period.")
    if link.bound_to is None:
        link.bound_to, link.first_used_at = who, now
    link.uses += 1
    keys = current_app.extensions["governance.keys"]
    key = bundles.unwrap_bundle_key(keys.secret(found.kek_name), found.wrapped_key, found.id)
    plain = io.BytesIO()
    bundles.open_sealed(io.BytesIO(found.sealed), plain, key, found.id)
    audit.record(
        session,
        actor=actor,
        action="requests.bundle.downloaded",
        target=("request", found.request_id),
        details={"bundle_id": str(found.id), "use": link.uses},
    )
    session.flush()
    return plain.getvalue(), f"export-{found.request_id}.zip"


def purge_expired_bundles(session: Session, *, now: datetime | None = None) -> int:
    """Delete bundles past their retention: content and wrapped key go; the row stays as proof."""
    now = now or utcnow()
    expired = session.scalars(
        select(ExportBundle)
        .where(ExportBundle.deleted_at.is_(None), ExportBundle.expires_at <= now)
        .with_for_update(skip_locked=True)
    ).all()
    return _delete(session, expired, now=now, reason="retention_elapsed")


def _delete_bundles(session: Session, subject_id: uuid.UUID, *, now: datetime, reason: str) -> int:
    """Delete every live bundle of a subject (an erasure leaves no export of the erased data behind)."""
    live = session.scalars(
        select(ExportBundle)
        .where(ExportBundle.subject_id == subject_id, ExportBundle.deleted_at.is_(None))
        .with_for_update()
    ).all()
    return _delete(session, live, now=now, reason=reason)


def _delete(session: Session, found_bundles: Iterable[ExportBundle], *, now: datetime, reason: str) -> int:
    """Drop the sealed content and the wrapped key (the row stays as proof) and end every link."""
    deleted = list(found_bundles)
    for found in deleted:
        found.sealed, found.wrapped_key, found.deleted_at = None, None, now
        audit.record(
            session,
            actor=WORKER,
            action="requests.bundle.deleted",
            target=("bundle", found.id),
            details={"request_id": str(found.request_id), "reason": reason},
        )
    if deleted:
        session.execute(
            update(DownloadLink).where(DownloadLink.bundle_id.in_([b.id for b in deleted])).values(expires_at=now)
        )
    session.flush()
    return len(deleted)


# --- erasure -------------------------------------------------------------------------------------------------

_CONFIRMED = {"delivered", "acknowledged", "confirmed", "succeeded"}
_FAILED = {"failed", "dead", "gave_up", "abandoned", "cancelled"}


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return date(day.year + years, 2, 28)


def erase_locally(session: Session, request_id: uuid.UUID, *, now: datetime | None = None) -> dict[str, Any]:
    """Erasure step 1, all in the caller's transaction: withdrawal of every consent, retention exceptions and
    crypto-shredding, processor notifications (queued webhooks) and model flags. Idempotent by step marker."""
    from governance.consent import service as consent
    from governance.training import service as training
    from governance.vault import service as vault

    now, policy = now or utcnow(), get_policy()
    row = _lock(session, request_id)
    if row.status != Status.IN_PROGRESS.value or row.step not in ("new", "queued"):
        return {"request_id": str(row.id), "skipped": row.step}
    exceptions = policy.retention_for(row.jurisdiction)
    keep = {e.category for e in exceptions}
    # consent first: the consent ledger refuses changes for a subject the vault already shows as erased
    withdrawn = consent.withdraw_all(session, row.subject_id, method="request", actor=WORKER)
    crash_point("erasure:consents_withdrawn")
    held = vault.event_counts(session, row.subject_id)
    report = _as_dict(
        vault.shred_subject(
            session, row.subject_id, actor=WORKER, reason=f"erasure request {row.id}", keep_categories=keep
        )
    )
    crash_point("erasure:shredded")
    delivery_ids = consent.notify_processors(
        session, event=ERASURE_EVENT, subject_id=row.subject_id, payload={"request_id": str(row.id)}
    )
    crash_point("erasure:processors_notified")
    flagged = training.flag_models_for_subject(session, row.subject_id, reason="erased")
    crash_point("erasure:models_flagged")
    bundles_deleted = _delete_bundles(session, row.subject_id, now=now, reason="subject_erased")
    deleted = ["profile", "data_keys", *(f"events:{c}" for c in sorted(held) if c not in keep)]
    if bundles_deleted:
        deleted.append("export_bundles")
    kept_events = int(report.get("events_kept") or 0)
    row.result = {
        "deleted": deleted,
        "kept": [
            {
                "category": e.category,
                "basis": e.basis,
                "reason": e.reason,
                "retain_until": _years_later(row.received_on, e.retain_for.years).isoformat(),
            }
            for e in exceptions
            if held.get(e.category)
        ],
        "counts": {
            "fields_destroyed": int(report.get("fields_destroyed") or 0),
            "events_destroyed": int(report.get("events_destroyed") or 0),
            "events_kept": kept_events,
            "keys_destroyed": int(report.get("keys_destroyed") or 0),
        },
        "consents_withdrawn": int(withdrawn),
        "deliveries": [str(d) for d in delivery_ids],
        "models_flagged": int(flagged),
        "local_done_at": now.isoformat(),
    }
    row.step = "awaiting_processors"
    audit.record(
        session,
        actor=WORKER,
        action="requests.erasure.performed",
        target=_target(row),
        details={
            "subject_id": str(row.subject_id),
            "kept_categories": sorted(k["category"] for k in row.result["kept"]),
            "consents_withdrawn": int(withdrawn),
            "processors_notified": len(delivery_ids),
            "models_flagged": int(flagged),
            **row.result["counts"],
        },
    )
    session.flush()
    return {"request_id": str(row.id), "step": row.step}


def processor_statuses(session: Session, row: DataSubjectRequest) -> list[dict[str, Any]]:
    """The delivery status of each processor notified for this erasure."""
    from governance.consent import service as consent

    ids = [uuid.UUID(d) for d in row.result.get("deliveries", [])]
    if not ids:
        return []
    statuses = []
    for view in consent.delivery_status(session, ids):
        data = _as_dict(view)
        raw = str(_pick(data, "status", "state") or "pending").lower()
        status = "confirmed" if raw in _CONFIRMED else "failed" if raw in _FAILED else "pending"
        statuses.append(
            {
                "processor": str(_pick(data, "processor_name", "processor_id")),
                "status": status,
                "confirmed_at": _pick(data, "acknowledged_at", "delivered_at", "confirmed_at")
                if status == "confirmed"
                else None,
            }
        )
    return statuses


def certify_erasure(
    session: Session, request_id: uuid.UUID, *, now: datetime | None = None, force: bool = False
) -> dict[str, Any]:
    """Erasure step 2: once every processor has answered (or the wait is over, or `force`), sign the
    certificate and close the request. Returns `{"waiting": True}` while processors are still pending."""
    now, policy = now or utcnow(), get_policy()
    row = _lock(session, request_id)
    if row.status != Status.IN_PROGRESS.value or row.step != "awaiting_processors":
        return {"request_id": str(row.id), "skipped": row.step}
    downstream = processor_statuses(session, row)
    local_done = datetime.fromisoformat(row.result["local_done_at"])
    deadline = local_done + timedelta(hours=policy.erasure.processor_wait_hours)
    pending = [d for d in downstream if d["status"] == "pending"]
    if pending and now < deadline and not force:
        return {"request_id": str(row.id), "waiting": True, "pending": len(pending)}
    keys = current_app.extensions["governance.keys"]
    claims = certificates.build_claims(
        issuer=current_app.extensions["governance.settings"].base_url,
        certificate_id=uuid.uuid5(uuid.NAMESPACE_URL, f"erasure-certificate:{row.id}"),
        request_id=row.id,
        subject_id=row.subject_id,
        jurisdiction=row.jurisdiction,
        received_at=row.received_at,
        completed_at=now,
        deleted=row.result["deleted"],
        kept=row.result["kept"],
        consents_withdrawn=row.result["consents_withdrawn"],
        downstream=downstream,
        models_flagged=row.result["models_flagged"],
    )
    row.certificate = certificates.sign_certificate(claims, keys.signing_key(CERTIFICATE_KEY))
    crash_point("erasure:certificate_signed")
    items = [ItemOutcome(f"category:{c}", done=True) for c in row.result["deleted"]]
    items += [ItemOutcome(f"category:{k['category']}", done=False, reason=k["reason"]) for k in row.result["kept"]]
    items += [
        ItemOutcome(
            f"processor:{d['processor']}",
            done=d["status"] == "confirmed",
            reason=None if d["status"] == "confirmed" else "The processor has not confirmed the deletion yet.",
        )
        for d in downstream
    ]
    row.step = "done"
    row.result = {
        **row.result,
        "downstream": [{**d, "confirmed_at": _text(d["confirmed_at"])} for d in downstream],
        "certificate_id": claims.jti,
    }
    audit.record(
        session,
        actor=WORKER,
        action="requests.certificate.issued",
        target=_target(row),
        details={
            "certificate_id": claims.jti,
            "processors_confirmed": sum(d["status"] == "confirmed" for d in downstream),
            "processors_unconfirmed": sum(d["status"] != "confirmed" for d in downstream),
        },
    )
    _transition(session, row, outcome_status(items), actor=WORKER, now=now, items=items)
    session.flush()
    return {"request_id": str(row.id), "certificate_id": claims.jti, "status": row.status}


def certificate_of(session: Session, request_id: uuid.UUID) -> str:
    row = session.get(DataSubjectRequest, request_id)
    if row is None or row.certificate is None:
        raise RequestNotFoundError("No certificate for this request.")
    return row.certificate


def certificate_jwks() -> dict[str, Any]:
    keys = current_app.extensions["governance.keys"]
    return certificates.jwks([keys.public_key(CERTIFICATE_KEY)])


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(DataSubjectRequest.status, func.count()).group_by(DataSubjectRequest.status))
    return dict(rows)


def refresh_overdue_metric() -> None:
    """Scrape-time refresh of `governance_requests_overdue` (the DPO's alert rule fires on it)."""
    from governance.db import get_db

    with get_db().session() as session:
        overdue(session)
