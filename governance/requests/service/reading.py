"""Reading requests: one, its owner (for access decisions), a filtered page, and the count in each status."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.requests.errors import RequestNotFoundError
from governance.requests.lifecycle import Status
from governance.requests.models import DataSubjectRequest
from governance.requests.policy import RequestsPolicy
from governance.requests.records import RequestView, get_policy, view_of
from governance.requests.service.overdue import overdue


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
    return view_of(row, policy or get_policy(), now)


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
    return [view_of(row, policy) for row in session.scalars(query)]


def count_by_status(session: Session) -> dict[str, int]:
    """How many requests are in each status (every status listed, zero included), for the console."""
    rows = session.execute(select(DataSubjectRequest.status, func.count()).group_by(DataSubjectRequest.status))
    counts = dict.fromkeys((s.value for s in Status), 0)
    # not dict(rows): a Result has .keys() (its column names), so dict() takes it for a mapping and fails
    for status, count in rows:
        counts[status] = count
    return counts
