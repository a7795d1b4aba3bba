"""What a DPO does when the automation cannot finish a request: retry its failed job, or record that the
request was fulfilled outside the service ("complete by hand").

The rules are here, not in the route, so that the console and any other caller refuse the same things:

- Retry: only an export or erasure in progress whose job failed for good (or was cancelled). It queues one new
  job, keyed by the failed one, so a double click or a second DPO queues nothing more; the job handlers are
  idempotent by step marker, so the work still takes effect exactly once.
- Complete: only a request in progress. An erasure only once its crypto-shred happened (step 1 committed and the
  vault shows the person erased): a DPO must never be able to mark an erasure done while the data still exists.
  An erasure completed by hand gets its signed certificate like one completed by the job (processors that did
  not confirm are listed as not confirmed).

The DPO names how it was done (one of `COMPLETION_METHODS`, which the person reads) and a reference kept as an
internal note (never sent to the person, never in the audit log or the logs).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from governance import audit, jobs
from governance.access.principals import Principal
from governance.db import utcnow
from governance.errors import DomainError, ValidationFailedError
from governance.requests import casework
from governance.requests.erasure import _certify
from governance.requests.errors import ManualActionRefusedError
from governance.requests.lifecycle import RequestKind, Status
from governance.requests.models import DataSubjectRequest
from governance.requests.policy import RequestsPolicy
from governance.requests.records import (
    ERASURE_JOB,
    EXPORT_JOB,
    RequestView,
    audit_target,
    lock_request,
    transition,
    view_of,
)
from governance.requests.records import get_policy as _get_policy
from governance.vault import service as vault

#: how a DPO fulfilled a request outside the service; the text is what the person reads as the outcome
COMPLETION_METHODS: dict[str, str] = {
    "secure_email": "We sent it to you through a secure e-mail channel.",
    "post": "We sent it to you by post.",
    "in_person": "We handed it to you in person.",
    "other_system": "Our staff carried it out by hand in the system that holds the data.",
    "processors_confirmed": "Our processors confirmed to us directly that they deleted your data.",
}
REFERENCE_MAX_CHARS = 500
#: job states after which nothing will run the request's job again
_JOB_ENDED = frozenset({"failed", "cancelled"})
_JOB_KINDS = {
    RequestKind.ACCESS.value: EXPORT_JOB,
    RequestKind.PORTABILITY.value: EXPORT_JOB,
    RequestKind.ERASURE.value: ERASURE_JOB,
}


def completion_refusal(status: str, kind: str, step: str, *, subject_erased: bool) -> str | None:
    """Why a request may not be completed by hand (a stable code), or None when it may."""
    if status != Status.IN_PROGRESS.value:
        return "not_in_progress"
    if kind == RequestKind.ERASURE.value and not (step == "awaiting_processors" and subject_erased):
        return "erasure_not_shredded"
    return None


def retry_refusal(status: str, kind: str, job_status: str | None) -> str | None:
    """Why a request's job may not be retried (a stable code), or None when it may."""
    if kind not in _JOB_KINDS:
        return "nothing_to_retry"
    if status != Status.IN_PROGRESS.value:
        return "not_in_progress"
    if job_status not in _JOB_ENDED:
        return "job_not_failed"
    return None


_REFUSALS = {
    "not_in_progress": "Only a request in progress can be completed or retried.",
    "erasure_not_shredded": "The erasure has not deleted the data yet: retry its job instead of completing it.",
    "nothing_to_retry": "This kind of request has no job to retry.",
    "job_not_failed": "The request's job has not failed: it is queued, running or done.",
}


def refusal_text(code: str) -> str:
    return _REFUSALS.get(code, "Not possible in the request's current state.")


def may_complete(session: Session, view: RequestView) -> str | None:
    """`completion_refusal` for a request's view (the console asks before offering the button)."""
    return completion_refusal(view.status, view.kind, view.step, subject_erased=_erased(session, view.subject_id))


def may_retry(session: Session, view: RequestView) -> str | None:
    """`retry_refusal` for a request's view."""
    return retry_refusal(view.status, view.kind, _job_status(session, view.job_id))


def complete_by_hand(
    session: Session,
    request_id: uuid.UUID,
    *,
    method: str,
    reference: str,
    actor: Principal,
    now: datetime | None = None,
    policy: RequestsPolicy | None = None,
) -> RequestView:
    """Close a request a DPO fulfilled outside the service as completed, with how (`method`) and a reference
    kept as an internal note. Raises `ManualActionRefusedError` (409) in a state that does not allow it."""
    now, policy = now or utcnow(), policy or _get_policy()
    if method not in COMPLETION_METHODS:
        raise ValidationFailedError(fields={"method": "one of " + ", ".join(COMPLETION_METHODS)}, code="unknown_method")
    cleaned = (reference or "").strip()
    if not cleaned or len(cleaned) > REFERENCE_MAX_CHARS:
        raise ValidationFailedError(fields={"reference": f"1 to {REFERENCE_MAX_CHARS} characters"})
    if actor.kind != "staff":
        raise ValidationFailedError("Only staff complete a request by hand.", code="staff_only")
    row = lock_request(session, request_id)
    refusal = completion_refusal(row.status, row.kind, row.step, subject_erased=_erased(session, row.subject_id))
    if refusal:
        raise ManualActionRefusedError(refusal, refusal_text(refusal))
    note = casework.add_note(session, row.id, text=cleaned, actor=actor)
    marker = {"method": method, "by": f"staff:{actor.id}", "note_id": str(note.id), "at": now.isoformat()}
    details = {"method": method, "by_hand": True, "note_id": str(note.id)}
    if row.kind == RequestKind.ERASURE.value:
        # the data is gone (checked above): sign the certificate as the job would, in the DPO's name
        _certify(session, row, now=now, force=True, actor=actor, details=details, by_hand=True)
        row.result = {**row.result, "completed_by_hand": marker}
    else:
        row.result = {**row.result, "completed_by_hand": marker}
        row.step = "done"
        transition(
            session,
            row,
            Status.COMPLETED,
            actor=actor,
            now=now,
            reason=COMPLETION_METHODS[method],
            details=details,
            by_hand=True,
        )
    session.flush()
    return view_of(row, policy, now)


def retry_job(
    session: Session,
    request_id: uuid.UUID,
    *,
    actor: Principal,
    now: datetime | None = None,
    policy: RequestsPolicy | None = None,
) -> RequestView:
    """Queue the request's export or erasure job again after it failed for good. Raises
    `ManualActionRefusedError` (409) when there is nothing to retry, including right after a retry."""
    now, policy = now or utcnow(), policy or _get_policy()
    row = lock_request(session, request_id)  # two DPOs retrying at once: the second sees the new job and is refused
    job_status = _job_status(session, row.job_id)
    refusal = retry_refusal(row.status, row.kind, job_status)
    if refusal:
        raise ManualActionRefusedError(refusal, refusal_text(refusal))
    failed = _failed_job(session, row)
    job_kind = _JOB_KINDS[row.kind]
    row.job_id = jobs.enqueue(
        session,
        job_kind,
        {"request_id": str(row.id)},
        # keyed by the failed job: retrying the same failure twice can never queue two jobs
        dedupe_key=f"{job_kind}:{row.id}:retry:{failed[0]}",
        created_by=actor.owner_label,
    )
    audit.record(
        session,
        actor=actor,
        action="requests.request.retried",
        target=audit_target(row),
        details={"kind": row.kind, "step": row.step, "failed_job": str(failed[0]), "error_code": failed[1]},
    )
    session.flush()
    return view_of(row, policy, now)


def _failed_job(session: Session, row: DataSubjectRequest) -> tuple[uuid.UUID, str | None]:
    assert row.job_id is not None  # retry_refusal refused a request without a job
    try:
        return row.job_id, jobs.get_job(session, row.job_id).error_code
    except DomainError:
        return row.job_id, None


def _job_status(session: Session, job_id: uuid.UUID | None) -> str | None:
    if job_id is None:
        return None
    try:
        return jobs.get_job(session, job_id).status
    except DomainError:  # the job was purged: nothing will run it
        return "failed"


def _erased(session: Session, subject_id: uuid.UUID) -> bool:
    """The vault's word that the person's keys are destroyed (not the request's own step marker alone)."""
    try:
        vault.get_subject(session, subject_id)
    except DomainError as exc:
        return exc.code == "subject_erased"
    return False
