"""The request record as the requests modules read and write it: shared constants, the request view, and the
transition helpers that lock a row, apply a status change `lifecycle.py` allows and write its audit entry in
the caller's transaction."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import Principal
from governance.core.runtime import runtime
from governance.db import utcnow
from governance.errors import DomainError
from governance.notifications import service as notifications
from governance.requests.deadlines import (
    ExtensionOffer,
    Period,
    business_days_between,
    confirmation_status,
    deadline_status,
    extension_offer,
    receipt_date,
)
from governance.requests.errors import (
    RequestNotFoundError,
    SubjectAlreadyErasedError,
)
from governance.requests.lifecycle import (
    CLOSED,
    OPEN,
    ItemOutcome,
    Status,
    check_transition,
)
from governance.requests.models import DataSubjectRequest
from governance.requests.policy import REQUESTS_POLICY, RequestsPolicy
from governance.vault import service as vault

BUNDLE_KEK = "requests_bundle_kek"
CERTIFICATE_KEY = "requests_certificate"
EXPORT_JOB = "requests.export"
ERASURE_JOB = "requests.erasure"
#: the webhook event processors subscribe to for erasures (payload: request_id only)
ERASURE_EVENT = "subject.erased"
WORKER = Principal.system("requests.worker")

Source = Literal["subject", "client", "staff"]


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
    #: confirmation of receipt (CCPA: within 10 business days); None where the law sets no such period
    confirm_by: date | None
    confirmed_at: datetime | None
    confirmation_method: str | None
    #: not confirmed yet and `confirm_by` has passed
    confirmation_overdue: bool
    #: confirmed after `confirm_by`
    confirmation_late: bool
    original_due_on: date
    due_on: date
    days_left: int
    overdue: bool
    extensions: list[dict[str, Any]]
    #: what may still be added if the subject is told today ("2 months"); None exactly when extend_request
    #: would refuse an extension notified today, with the code it would give in `extension_refusal`
    extension_available: str | None
    extension_refusal: str | None
    #: the last day an extension may be notified to the subject
    extension_notice_by: date | None
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
    """The app's policies/requests.yaml (from its configured policies folder); raises outside an app."""
    return runtime().get(REQUESTS_POLICY)


def _today(row: DataSubjectRequest, policy: RequestsPolicy, now: datetime) -> date:
    return receipt_date(now, policy.rule(row.jurisdiction))


def view_of(row: DataSubjectRequest, policy: RequestsPolicy, now: datetime | None = None) -> RequestView:
    now = now or utcnow()
    rule = policy.rule(row.jurisdiction)
    today = receipt_date(now, rule)
    closed_on = receipt_date(row.closed_at, rule) if row.closed_at else None
    status = deadline_status(row.due_on, today, closed_on=closed_on)
    offer = extension_offer_for(row, policy, notified_on=today)
    confirmation = confirmation_status(
        row.confirm_by, today, confirmed_on=receipt_date(row.confirmed_at, rule) if row.confirmed_at else None
    )
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
        confirmed_at=row.confirmed_at,
        confirmation_method=row.confirmation_method,
        confirmation_overdue=confirmation.overdue and row.status in OPEN,
        confirmation_late=confirmation.late,
        original_due_on=row.original_due_on,
        due_on=row.due_on,
        days_left=status.days_left,
        overdue=status.overdue,
        extensions=list(row.extensions),
        extension_available=str(offer.available) if offer.available else None,
        extension_refusal=offer.refusal,
        extension_notice_by=offer.notice_by,
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


def extension_offer_for(row: DataSubjectRequest, policy: RequestsPolicy, *, notified_on: date) -> ExtensionOffer:
    """`deadlines.extension_offer` for a stored request: the view and `extend_request` both ask this."""
    return extension_offer(
        policy.rule(row.jurisdiction),
        row.received_on,
        [period_of(e) for e in row.extensions],
        notified_on=notified_on,
        closed=row.status not in OPEN,
    )


def period_of(extension: Mapping[str, Any]) -> Period:
    return Period(int(extension["amount"]), extension["unit"])


# --- lifecycle helpers ---------------------------------------------------------------------------------------


def audit_target(row: DataSubjectRequest) -> tuple[str, uuid.UUID]:
    return ("request", row.id)


def transition(
    session: Session,
    row: DataSubjectRequest,
    target: Status,
    *,
    actor: Principal,
    now: datetime,
    reason: str | None = None,
    items: Iterable[ItemOutcome] = (),
    details: Mapping[str, Any] | None = None,
    by_hand: bool = False,
) -> None:
    """Move `row` to `target` and add the audit entry to the same transaction (`by_hand`: a DPO completed it
    outside the service, which changes the person's e-mail)."""
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
        target=audit_target(row),
        details={"kind": row.kind, "from": previous, "subject_id": str(row.subject_id), **(details or {})},
    )
    if target in CLOSED:  # the person is told by e-mail (queued in this transaction; docs/notifications.md)
        notifications.notify_request_closed(
            session,
            row.subject_id,
            row.id,
            request_kind=row.kind,
            status=row.status,
            rejection_code=row.rejection_code,
            by_hand=by_hand,
        )
    if row.confirmed_at is None and (target is Status.VERIFIED or target in CLOSED):
        # a verified request starts (the requester learns it was received and is being handled); a closed one
        # was answered: either way the receipt is confirmed now, if nothing confirmed it earlier
        method = "dashboard" if row.source == "subject" else "verification" if target is Status.VERIFIED else "response"
        record_confirmation(session, row, method=method, actor=actor, now=now)


def record_confirmation(
    session: Session, row: DataSubjectRequest, *, method: str, actor: Principal, now: datetime
) -> None:
    """Record the confirmation of receipt (its own audit entry, `requests.request.confirmed`)."""
    rule = get_policy().rule(row.jurisdiction)
    confirmed_on = receipt_date(now, rule)
    status = confirmation_status(row.confirm_by, confirmed_on, confirmed_on=confirmed_on)
    row.confirmed_at = now
    row.confirmation_method = method
    details: dict[str, Any] = {"kind": row.kind, "method": method}
    if row.confirm_by is not None:
        details["business_days"] = business_days_between(row.received_on, confirmed_on, rule.business_calendar)
        details["late"] = status.late
    audit.record(session, actor=actor, action="requests.request.confirmed", target=audit_target(row), details=details)


def lock_request(session: Session, request_id: uuid.UUID) -> DataSubjectRequest:
    row = session.scalars(
        select(DataSubjectRequest).where(DataSubjectRequest.id == request_id).with_for_update()
    ).first()
    if row is None:
        raise RequestNotFoundError()
    return row


def check_subject(session: Session, subject_id: uuid.UUID) -> Any:
    """The vault's view of the subject; an erased subject gives `already_erased`, an unknown one 404."""
    with _erased_as_already_erased():
        return vault.get_subject(session, subject_id)


def subject_jurisdiction(session: Session, subject_id: uuid.UUID) -> str:
    """`check_subject` for a caller that needs only the subject's jurisdiction (one read of two columns)."""
    with _erased_as_already_erased():
        return vault.subject_jurisdiction(session, subject_id)


@contextmanager
def _erased_as_already_erased() -> Iterator[None]:
    try:
        yield
    except DomainError as exc:
        if type(exc).__name__ == "SubjectErasedError" or exc.code in {"subject_erased", "already_erased"}:
            raise SubjectAlreadyErasedError() from None
        raise


def requests_for_subject(session: Session, subject_id: uuid.UUID) -> list[RequestView]:
    """Every request of one subject, newest first (contract: dashboard and export)."""
    policy = get_policy()
    rows = session.scalars(
        select(DataSubjectRequest)
        .where(DataSubjectRequest.subject_id == subject_id)
        .order_by(DataSubjectRequest.received_at.desc())
    )
    return [view_of(row, policy) for row in rows]


def fields_of(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # shallow on purpose: asdict() deep-copies every nested value, too slow for 10,000 events
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return dict(vars(value))


def first_given(data: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if data.get(name) is not None:
            return data[name]
    return None


def text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
