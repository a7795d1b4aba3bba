"""Queueing notifications: a job whose payload holds only ids and the kind, never the address."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy.orm import Session

from governance import jobs

SEND_JOB = "notifications.send_email"
MAX_ATTEMPTS = 5


class NoticeKind(StrEnum):
    EXPORT_READY = "export_ready"
    REQUEST_REJECTED = "request_rejected"
    REQUEST_COMPLETED = "request_completed"


# requests whose completion means "your download is waiting" rather than "it is done"
_EXPORT_REQUESTS = frozenset({"access", "portability"})


def notify(
    session: Session, subject_id: uuid.UUID, kind: NoticeKind | str, *, request_id: uuid.UUID | None = None
) -> uuid.UUID:
    """Queue one e-mail to the subject, in the caller's transaction (sent only if that transaction commits).
    Queued at most once per (kind, request)."""
    kind = NoticeKind(kind)
    payload = {"kind": kind.value, "subject_id": str(subject_id)}
    if request_id is not None:
        payload["request_id"] = str(request_id)
    dedupe = f"{SEND_JOB}:{kind.value}:{request_id}" if request_id is not None else None
    return jobs.enqueue(
        session,
        SEND_JOB,
        payload,
        max_attempts=MAX_ATTEMPTS,
        dedupe_key=dedupe,
        created_by="system:notifications",
    )


# the person withdrew the request on the dashboard and read the result there: nothing to tell them
_NO_MAIL_REJECTIONS = frozenset({"withdrawn_by_subject"})


def notify_request_closed(
    session: Session,
    subject_id: uuid.UUID,
    request_id: uuid.UUID,
    *,
    request_kind: str,
    status: str,
    rejection_code: str | None = None,
) -> uuid.UUID | None:
    """The requests domain's hook when a request closes: which e-mail (if any) the person gets.

    A completed erasure sends nothing: the address was destroyed by the erasure itself, and keeping a copy to
    announce it would keep personal data the person asked us to delete. The signed certificate on the
    dashboard is the confirmation (docs/notifications.md)."""
    if status == "rejected":
        if rejection_code in _NO_MAIL_REJECTIONS:
            return None
        return notify(session, subject_id, NoticeKind.REQUEST_REJECTED, request_id=request_id)
    if status not in ("completed", "partially_completed") or request_kind == "erasure":
        return None
    kind = NoticeKind.EXPORT_READY if request_kind in _EXPORT_REQUESTS else NoticeKind.REQUEST_COMPLETED
    return notify(session, subject_id, kind, request_id=request_id)
