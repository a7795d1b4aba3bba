"""The durable job queue: enqueue in the caller's transaction, claim with leases, finish, retry with backoff.

Claiming uses `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL so that many workers never take the same job;
SQLite serializes writers (`BEGIN IMMEDIATE`), which is enough for its single worker. A job whose lease runs out
(its worker died) is claimed again; the claim token makes a late finish from the dead worker a no-op.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from governance import write_batch
from governance.db import rowcount, utcnow
from governance.errors import NotFoundError
from governance.jobs.leases import Claim, owned
from governance.jobs.models import Job
from governance.jobs.registry import handler_for

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 600.0


class JobNotFoundError(NotFoundError):
    code = "job_not_found"
    default_message = "No such job."


@dataclass(frozen=True)
class JobView:
    id: uuid.UUID
    kind: str
    status: str
    attempts: int
    max_attempts: int
    progress_done: int | None
    progress_total: int | None
    progress_message: str | None
    result: dict[str, Any] | None
    error_code: str | None
    created_at: datetime
    finished_at: datetime | None
    created_by: str | None

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls(
            id=job.id,
            kind=job.kind,
            status=job.status,
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            progress_done=job.progress_done,
            progress_total=job.progress_total,
            progress_message=job.progress_message,
            result=job.result,
            error_code=job.error_code,
            created_at=job.created_at,
            finished_at=job.finished_at,
            created_by=job.created_by,
        )


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    max_attempts: int | None = None,
    run_after: datetime | None = None,
    dedupe_key: str | None = None,
    created_by: str | None = None,
    key_is_new: bool = False,
    flush: bool = True,
) -> uuid.UUID:
    """Add a job in the caller's transaction. With `dedupe_key`, an existing job with that key is returned instead.

    `key_is_new`: the caller knows no job can hold `dedupe_key` yet (it names a row this transaction's state
    change just made eligible, once), so the lookup is skipped; the key's unique constraint still refuses a
    duplicate, failing the transaction rather than queueing twice.
    `flush=False`: the job is written at the caller's next flush, with the caller's own pending rows (the id is
    known at once; a duplicate key then fails at that flush). Inside `deferred` the job is held until the block
    ends, whatever `flush` says."""
    if dedupe_key is not None and not key_is_new:
        existing = find_by_dedupe_key(session, dedupe_key)
        if existing is not None:
            return existing
    spec = handler_for(kind)
    job = Job(
        id=uuid.uuid4(),
        kind=kind,
        payload=payload,
        status="queued",
        attempts=0,
        max_attempts=max_attempts or (spec.max_attempts if spec else 5),
        run_after=run_after or utcnow(),
        dedupe_key=dedupe_key,
        created_by=created_by,
    )
    held = session.info.get(_DEFERRED)
    if held is not None:
        held.append(job)
        return job.id
    session.add(job)
    if flush:
        session.flush()
    return job.id


_DEFERRED = "governance.jobs.deferred"


@contextmanager
def deferred(session: Session) -> Iterator[list[Job]]:
    """The jobs `enqueue` adds inside the block are held back and yielded to the caller, who writes them with its
    own rows in one statement after the block (`batch_part`); if the block raises, they are dropped. For a caller
    whose first write in the block may turn out not to happen (filing a request that merges into the open one):
    nothing of the job reaches the database before that write, so there is nothing to roll back (no savepoint).
    Blocks do not nest (each caller writes what it holds). `find_by_dedupe_key` does not see held jobs."""
    if _DEFERRED in session.info:
        raise RuntimeError("jobs.deferred blocks do not nest: each caller writes the jobs it holds")
    held: list[Job] = []
    session.info[_DEFERRED] = held
    try:
        yield held
    finally:
        session.info.pop(_DEFERRED, None)


_ENQUEUED = ("id", "kind", "payload", "status", "attempts", "max_attempts", "run_after", "dedupe_key", "created_by")
_DEFAULTED = ("cancel_requested", "created_at", "updated_at")  # what the ORM's flush would fill in
_BATCH_TARGET = write_batch.target("jobs", Job.__table__, (*_ENQUEUED, *_DEFAULTED))
_UNSET_DEFAULTS = {c.key for c in Job.__table__.c if c.default is not None} - {*_ENQUEUED, *_DEFAULTED}
if _UNSET_DEFAULTS:  # a new column with a client-side default: a batched job would store NULL in it
    raise RuntimeError(f"give these in batch_part: {sorted(_UNSET_DEFAULTS)}")


def batch_part(held: list[Job]) -> write_batch.Part:
    """The jobs a `deferred` block held, as a part of the caller's combined statement (`governance.write_batch`),
    stored as `enqueue` and a flush store them."""
    now = utcnow()
    defaults = {"cancel_requested": False, "created_at": now, "updated_at": now}
    return write_batch.Part(_BATCH_TARGET, [{**{c: getattr(job, c) for c in _ENQUEUED}, **defaults} for job in held])


def find_by_dedupe_key(session: Session, dedupe_key: str) -> uuid.UUID | None:
    """The id of the job queued under `dedupe_key` (in any status), or None: lets a caller that enqueues many
    jobs tell a new one from one queued by an earlier run."""
    return session.scalar(select(Job.id).where(Job.dedupe_key == dedupe_key))


def get_job(session: Session, job_id: uuid.UUID) -> JobView:
    job = session.get(Job, job_id)
    if job is None:
        raise JobNotFoundError()
    return JobView.of(job)


def request_cancel(session: Session, job_id: uuid.UUID) -> JobView:
    """Ask a job to stop: a queued job is cancelled at once, a running one when its handler next checks."""
    job = session.get(Job, job_id)
    if job is None:
        raise JobNotFoundError()
    if job.status == "queued":
        job.status = "cancelled"
        job.finished_at = utcnow()
    elif job.status == "running":
        job.cancel_requested = True
    session.flush()
    return JobView.of(job)


def claim_next(session: Session, *, worker_id: str, kinds: list[str] | None = None) -> Claim | None:
    """Claim one due job (queued, or running with an expired lease) and commit the claim."""
    now = utcnow()
    query = (
        select(Job)
        .where(
            or_(
                (Job.status == "queued") & (Job.run_after <= now),
                (Job.status == "running") & (Job.lease_expires_at < now),
            )
        )
        .order_by(Job.run_after)
        .limit(1)
    )
    if kinds:
        query = query.where(Job.kind.in_(kinds))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    job = session.scalars(query).first()
    if job is None:
        session.rollback()
        return None
    spec = handler_for(job.kind)
    lease = spec.lease_seconds if spec else 60
    if job.attempts >= job.max_attempts:
        # It crashed on its last allowed attempt: give up rather than run it again.
        job.status, job.error_code, job.finished_at = "failed", "lease_expired", now
        session.commit()
        return None
    job.status = "running"
    job.attempts += 1
    job.claim_token = uuid.uuid4()
    job.locked_by = worker_id
    job.lease_expires_at = now + timedelta(seconds=lease)
    claim = Claim(job.id, job.kind, dict(job.payload), job.attempts, job.claim_token, lease)
    session.commit()
    return claim


def finish(session: Session, claim: Claim, *, result: dict[str, Any] | None, cancelled: bool = False) -> bool:
    values = {
        "status": "cancelled" if cancelled else "succeeded",
        "result": result,
        "finished_at": utcnow(),
        "lease_expires_at": None,
        "error_code": None,
    }
    updated = session.execute(update(Job).where(owned(claim)).values(**values))
    session.commit()
    return rowcount(updated) == 1


def backoff_seconds(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with up to 10% jitter, capped."""
    base = min(BACKOFF_BASE_SECONDS * (2 ** max(attempt - 1, 0)), BACKOFF_MAX_SECONDS)
    return base * (1 + 0.1 * (rng or random).random())


def fail(session: Session, claim: Claim, *, error_code: str, retryable: bool = True) -> str:
    """Record a failed attempt: queue a retry after backoff, or fail for good. Returns the new status."""
    job = session.get(Job, claim.job_id)
    if job is None or job.claim_token != claim.claim_token or job.status != "running":
        session.rollback()
        return "lost"
    job.error_code = error_code[:100]
    job.lease_expires_at = None
    if retryable and job.attempts < job.max_attempts:
        job.status = "queued"
        job.run_after = utcnow() + timedelta(seconds=backoff_seconds(job.attempts))
    else:
        job.status = "failed"
        job.finished_at = utcnow()
    status = job.status
    session.commit()
    return status


def enqueue_periodic(session: Session, kind: str, every_seconds: int, payload: dict[str, Any]) -> bool:
    """Enqueue the job for the current time slot unless another worker already did."""
    slot = int(utcnow().timestamp()) // every_seconds
    key = f"periodic:{kind}:{slot}"
    try:
        if session.scalar(select(Job.id).where(Job.dedupe_key == key)) is not None:
            session.rollback()
            return False
        enqueue(session, kind, payload, dedupe_key=key, created_by="system:scheduler")
        session.commit()
        return True
    except IntegrityError:
        session.rollback()
        return False


def queue_depth(session: Session) -> dict[str, int]:
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return dict(rows)
