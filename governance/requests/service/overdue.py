"""Overdue requests: the contract's list, the once-per-request alert (an audit entry) and the gauge the DPO's
alert rule fires on."""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client import Gauge
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance import audit
from governance.db import get_db, utcnow
from governance.requests.deadlines import receipt_date
from governance.requests.lifecycle import OPEN
from governance.requests.models import DataSubjectRequest
from governance.requests.policy import RequestsPolicy
from governance.requests.records import WORKER, RequestView, audit_target, get_policy, lock_request, view_of

OVERDUE_GAUGE = Gauge(
    "governance_requests_overdue", "Open data subject requests past their legal due date", ["jurisdiction"]
)


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
    views = [view_of(row, policy, now) for row in rows]
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
        row = lock_request(session, view.id)
        if row.overdue_alerted_at is not None:
            continue
        row.overdue_alerted_at = now
        audit.record(
            session,
            actor=WORKER,
            action="requests.request.overdue",
            target=audit_target(row),
            details={"kind": row.kind, "days_late": -view.days_left},
        )
        alerted += 1
    session.flush()
    return alerted


def refresh_overdue_metric() -> None:
    """Scrape-time refresh of `governance_requests_overdue` (the DPO's alert rule fires on it)."""
    with get_db().read_only_session() as session:  # a scrape never waits on the service's writes
        overdue(session)
