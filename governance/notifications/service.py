"""Queueing notifications: a job whose payload holds only ids and the kind, never the address."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from governance import audit, jobs
from governance.access.principals import ActorRef, Principal
from governance.consent import service as consent

SEND_JOB = "notifications.send_email"
MAX_ATTEMPTS = 5


class NoticeKind(StrEnum):
    EXPORT_READY = "export_ready"
    REQUEST_REJECTED = "request_rejected"
    REQUEST_COMPLETED = "request_completed"
    NOTICE_RENEWAL = "notice_renewal"


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
    by_hand: bool = False,
) -> uuid.UUID | None:
    """The requests domain's hook when a request closes: which e-mail (if any) the person gets.

    An export a DPO completed by hand (`by_hand`: sent outside the service) has no download: the person gets
    the plain "completed" mail, not "your export is ready".

    A completed erasure sends nothing: the address was destroyed by the erasure itself, and keeping a copy to
    announce it would keep personal data the person asked us to delete. The signed certificate on the
    dashboard is the confirmation (docs/notifications.md)."""
    if status == "rejected":
        if rejection_code in _NO_MAIL_REJECTIONS:
            return None
        return notify(session, subject_id, NoticeKind.REQUEST_REJECTED, request_id=request_id)
    if status not in ("completed", "partially_completed") or request_kind == "erasure":
        return None
    exported = request_kind in _EXPORT_REQUESTS and not by_hand
    kind = NoticeKind.EXPORT_READY if exported else NoticeKind.REQUEST_COMPLETED
    return notify(session, subject_id, kind, request_id=request_id)


def _renewal_key(purpose: str, notice_version: int, subject_id: uuid.UUID) -> str:
    return f"{SEND_JOB}:{NoticeKind.NOTICE_RENEWAL.value}:{purpose}:v{notice_version}:{subject_id}"


@dataclass(frozen=True)
class RenewalAnnouncement:
    """What `announce_renewal` did: the notice version asked about and how many e-mails it queued now; the people
    an earlier run already queued a mail for (for that version) count in `already_queued`, not again."""

    purpose: str
    notice_version: int
    queued: int
    already_queued: int


def announce_renewal(session: Session, purpose: str, *, actor: Principal | ActorRef) -> RenewalAnnouncement:
    """Queue one `notice_renewal` e-mail to each person whose consent to `purpose` was given to a notice older
    than its last material change (`consent.subjects_needing_renewal`), in the caller's transaction, with one
    audit entry for the run (counts only).

    At most one e-mail per (purpose, notice version, person), however often it runs: the job's dedupe key says
    so. A later material change is a new version, so the same person is asked again. Raises UnknownPurposeError."""
    version = consent.purpose(purpose).renewal_from_version
    queued = already = 0
    for subject_id in consent.subjects_needing_renewal(session, purpose):
        key = _renewal_key(purpose, version, subject_id)
        if jobs.find_by_dedupe_key(session, key) is not None:
            already += 1
            continue
        payload = {
            "kind": NoticeKind.NOTICE_RENEWAL.value,
            "subject_id": str(subject_id),
            "purpose": purpose,
            "notice_version": version,
        }
        jobs.enqueue(
            session, SEND_JOB, payload, max_attempts=MAX_ATTEMPTS, dedupe_key=key, created_by="system:notifications"
        )
        queued += 1
    audit.record(
        session,
        actor=actor,
        action="notifications.renewal.announced",
        target=("purpose", purpose),
        details={"notice_version": version, "queued": queued, "already_queued": already},
    )
    return RenewalAnnouncement(purpose=purpose, notice_version=version, queued=queued, already_queued=already)
