"""Data subject requests: the service other domains and the routes call (docs/contracts.md).

Filing, merging, verification, rejection, extension, rectification, objection, reading and the overdue alert
live here; the export and erasure steps live in `exports.py` and `erasure.py` and are re-exported. Functions
take the session first and never commit: the route or job handler owns the transaction, so that every state
change and its audit entry commit together. Other domains are reached only through their contract functions,
imported inside functions so that the layering holds at import time too.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from prometheus_client import Gauge
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import Principal
from governance.db import utcnow
from governance.errors import ValidationFailedError
from governance.requests.casework import (  # casework: owner and internal notes (re-exported for callers)
    NoteView,
    add_note,
    assign_owner,
    notes_of,
    owner_of,
)
from governance.requests.core import (
    BUNDLE_KEK,
    CERTIFICATE_KEY,
    ERASURE_EVENT,
    ERASURE_JOB,
    EXPORT_JOB,
    POLICY_EXTENSION,
    WORKER,
    FiledRequest,
    RequestView,
    Source,
    _check_subject,
    _confirm,
    _lock,
    _period,
    _target,
    _transition,
    _view,
    get_policy,
    requests_for_subject,
)
from governance.requests.deadlines import (
    Period,
    compute_deadlines,
    plan_extension,
    receipt_date,
)
from governance.requests.erasure import (
    certificate_jwks,
    certificate_of,
    certify_erasure,
    erase,
    erase_locally,
    processor_statuses,
)
from governance.requests.errors import (
    InvalidTransitionError,
    RequestNotFoundError,
    UnknownRequestKindError,
)
from governance.requests.exports import (
    collect_export,
    issue_download_link,
    link_request,
    open_download,
    purge_expired_bundles,
    run_export,
)
from governance.requests.lifecycle import (
    OPEN,
    ItemOutcome,
    RequestKind,
    Status,
    outcome_status,
)
from governance.requests.models import DataSubjectRequest
from governance.requests.policy import RequestsPolicy

__all__ = [
    "BUNDLE_KEK",
    "CERTIFICATE_KEY",
    "ERASURE_EVENT",
    "ERASURE_JOB",
    "EXPORT_JOB",
    "OVERDUE_GAUGE",
    "POLICY_EXTENSION",
    "WORKER",
    "FiledRequest",
    "NoteView",
    "RequestView",
    "Source",
    "add_note",
    "assign_owner",
    "certificate_jwks",
    "certificate_of",
    "certify_erasure",
    "collect_export",
    "confirm_request",
    "count_by_status",
    "erase",
    "erase_locally",
    "extend_request",
    "file_request",
    "get_policy",
    "get_request",
    "issue_download_link",
    "link_request",
    "list_requests",
    "notes_of",
    "open_download",
    "overdue",
    "owner_of",
    "processor_statuses",
    "purge_expired_bundles",
    "refresh_overdue_metric",
    "reject_request",
    "request_owner",
    "requests_for_subject",
    "run_export",
    "sweep_overdue",
    "verify_request",
]

OVERDUE_GAUGE = Gauge(
    "governance_requests_overdue", "Open data subject requests past their legal due date", ["jurisdiction"]
)


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
            created_by=actor.owner_label,
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


def confirm_request(
    session: Session,
    request_id: uuid.UUID,
    *,
    method: str,
    actor: Principal,
    now: datetime | None = None,
    policy: RequestsPolicy | None = None,
) -> RequestView:
    """Record that staff told the requester the request was received and how it will be handled (CCPA:
    within 10 business days), for a request that waits for verification. A verified or closed request was
    confirmed already (`invalid_transition`)."""
    now, policy = now or utcnow(), policy or get_policy()
    if not method or len(method) > _VERIFICATION_METHOD_MAX:
        raise ValidationFailedError(fields={"method": "1 to 60 characters"})
    row = _lock(session, request_id)
    if row.status not in OPEN:
        raise InvalidTransitionError("A closed request cannot be confirmed.")
    if row.confirmed_at is not None:
        raise InvalidTransitionError("The request was confirmed already.")
    _confirm(session, row, method=method, actor=actor, now=now)
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
    """Extend the deadline (in the jurisdiction's unit) with a reason that is sent to the subject now (or was
    sent on `notified_on`, between receipt and today).

    Raises `InvalidTransitionError` (409) for a closed request, `ExtensionNotAllowedError` (422) without a
    reason, past the legal maximum, or after the first period: exactly when the request's view shows no
    `extension_available` for that notice day (both ask `deadlines.extension_offer`).
    """
    now, policy = now or utcnow(), policy or get_policy()
    row = _lock(session, request_id)
    rule = policy.rule(row.jurisdiction)
    unit = rule.respond_within.unit
    today = receipt_date(now, rule)
    if notified_on is not None and row.status in OPEN and not (row.received_on <= notified_on <= today):
        # a notice already given may be recorded late, but not one dated before receipt or not yet sent
        raise ValidationFailedError(fields={"notified_on": "between the day of receipt and today"})
    notified_on = notified_on or today
    # the same decision the view shows as `extension_available` (deadlines.extension_offer)
    deadlines = plan_extension(
        rule,
        row.received_on,
        [_period(e) for e in row.extensions],
        Period(amount, unit),
        reason=reason,
        notified_on=notified_on,
        closed=row.status not in OPEN,
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


def get_request(
    session: Session,
    request_id: uuid.UUID,
    *,
    policy: RequestsPolicy | None = None,
    now: datetime | None = None,
) -> RequestView:
    """One request as of `now` (days left, overdue, extension and confirmation state)."""
    row = session.get(DataSubjectRequest, request_id)
    if row is None:
        raise RequestNotFoundError()
    return _view(row, policy or get_policy(), now)


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
    after: tuple[datetime, uuid.UUID] | None = None,
    policy: RequestsPolicy | None = None,
) -> list[RequestView]:
    """Requests, newest first, filtered; `overdue_only` keeps open requests past their due date. `after` is a
    keyset cursor, the (received_at, id) of the last request already seen: the page starts below it."""
    policy = policy or get_policy()
    query = (
        select(DataSubjectRequest)
        .order_by(DataSubjectRequest.received_at.desc(), DataSubjectRequest.id.desc())
        .limit(limit)
    )
    if after is not None:
        seen_at, seen_id = after
        query = query.where(
            (DataSubjectRequest.received_at < seen_at)
            | ((DataSubjectRequest.received_at == seen_at) & (DataSubjectRequest.id < seen_id))
        )
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


def count_by_status(session: Session) -> dict[str, int]:
    """How many requests are in each status (every status listed, zero included), for the console."""
    rows = session.execute(select(DataSubjectRequest.status, func.count()).group_by(DataSubjectRequest.status))
    counts = dict.fromkeys((s.value for s in Status), 0)
    # not dict(rows): a Result has .keys() (its column names), so dict() takes it for a mapping and fails
    for status, count in rows:
        counts[status] = count
    return counts


def refresh_overdue_metric() -> None:
    """Scrape-time refresh of `governance_requests_overdue` (the DPO's alert rule fires on it)."""
    from governance.db import get_db

    with get_db().read_only_session() as session:  # a scrape never waits on the service's writes
        overdue(session)
