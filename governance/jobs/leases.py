"""A claimed job's lease: the claim a worker holds, renewing it with progress, and reading a cancellation
request. Below both the queue (`service`) and the handler's context (`context`), so that the handler registry,
the context and the queue import one another in one direction only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from governance.db import rowcount, utcnow
from governance.jobs.models import Job

__all__ = ["Claim", "is_cancel_requested", "owned", "renew"]


@dataclass(frozen=True)
class Claim:
    job_id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    attempt: int
    claim_token: uuid.UUID
    lease_seconds: int


def owned(claim: Claim) -> Any:
    """The condition that the job row still belongs to this claim (a late finish from a dead worker is a no-op)."""
    return (Job.id == claim.job_id) & (Job.claim_token == claim.claim_token) & (Job.status == "running")


def renew(session: Session, claim: Claim, *, done: int | None, total: int | None, message: str | None) -> bool:
    """Record progress and extend the lease; False when the claim was lost (the job belongs to another worker)."""
    values: dict[str, Any] = {"lease_expires_at": utcnow() + timedelta(seconds=claim.lease_seconds)}
    if done is not None:
        values["progress_done"] = done
    if total is not None:
        values["progress_total"] = total
    if message is not None:
        values["progress_message"] = message[:200]
    result = session.execute(update(Job).where(owned(claim)).values(**values))
    session.commit()
    return rowcount(result) == 1


def is_cancel_requested(session: Session, claim: Claim) -> bool:
    value = session.scalar(select(Job.cancel_requested).where(Job.id == claim.job_id))
    session.rollback()
    return bool(value)
