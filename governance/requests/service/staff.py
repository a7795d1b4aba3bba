"""What staff do to a request: record how the requester was verified (and start it), confirm receipt, reject
with one of the policy's reasons, extend the deadline."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import Principal
from governance.db import utcnow
from governance.errors import ValidationFailedError
from governance.requests.deadlines import Period, plan_extension, receipt_date
from governance.requests.errors import InvalidTransitionError
from governance.requests.lifecycle import OPEN, RequestKind, Status
from governance.requests.policy import RequestsPolicy
from governance.requests.records import (
    RequestView,
    audit_target,
    get_policy,
    lock_request,
    period_of,
    record_confirmation,
    subject_jurisdiction,
    transition,
    view_of,
)
from governance.requests.service.filing import VERIFICATION_METHOD_MAX, start


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
    if not method or len(method) > VERIFICATION_METHOD_MAX:
        raise ValidationFailedError(fields={"method": "1 to 60 characters"})
    row = lock_request(session, request_id)
    if row.kind == RequestKind.RECTIFICATION.value:
        raise InvalidTransitionError("A rectification is verified when it is filed.")
    if row.status != Status.RECEIVED.value:
        raise InvalidTransitionError("Only a received request can be verified.")
    subject_jurisdiction(session, row.subject_id)  # still there and not erased
    row.verification_method = method
    transition(session, row, Status.VERIFIED, actor=actor, now=now, details={"method": method})
    start(session, row, actor=actor, now=now, params=row.params, policy=policy)
    session.flush()
    return view_of(row, policy, now)


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
    if not method or len(method) > VERIFICATION_METHOD_MAX:
        raise ValidationFailedError(fields={"method": "1 to 60 characters"})
    row = lock_request(session, request_id)
    if row.status not in OPEN:
        raise InvalidTransitionError("A closed request cannot be confirmed.")
    if row.confirmed_at is not None:
        raise InvalidTransitionError("The request was confirmed already.")
    record_confirmation(session, row, method=method, actor=actor, now=now)
    session.flush()
    return view_of(row, policy, now)


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
    row = lock_request(session, request_id)
    if row.kind == RequestKind.ERASURE.value and row.step not in ("new", "queued"):
        raise InvalidTransitionError("The erasure has already been carried out.")
    row.rejection_code = code
    transition(session, row, Status.REJECTED, actor=actor, now=now, reason=text, details={"code": code})
    session.flush()
    return view_of(row, policy, now)


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
    row = lock_request(session, request_id)
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
        [period_of(e) for e in row.extensions],
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
        target=audit_target(row),
        details={"amount": amount, "unit": unit, "days_to_respond": (row.due_on - row.received_on).days},
    )
    session.flush()
    return view_of(row, policy, now)
