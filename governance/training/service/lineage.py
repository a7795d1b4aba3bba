"""Which models were trained on whose data, and the flags on models trained on data of people who have since
been erased or withdrawn (contract: export, erasure and the dashboard call these; docs/contracts.md)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import Principal
from governance.consent import service as consent_service
from governance.db import utcnow
from governance.outbox import service as outbox
from governance.training.models import TrainingFlag, TrainingJob, TrainingLineage
from governance.training.service.views import ModelSummary
from governance.vault import service as vault_service

__all__ = ["WITHDRAWAL_REASONS", "flag_models_for_subject", "models_including", "refresh_flags"]

WITHDRAWAL_REASONS = frozenset({"withdrawn", "objected"})


def models_including(session: Session, subject_id: uuid.UUID) -> list[ModelSummary]:
    """Models whose training data included ``subject_id`` (contract: export, erasure and the dashboard)."""
    flagged_jobs = set(session.scalars(select(TrainingFlag.job_id).where(TrainingFlag.subject_id == subject_id)))
    jobs = session.scalars(
        select(TrainingJob)
        .join(TrainingLineage, TrainingLineage.job_id == TrainingJob.id)
        .where(TrainingLineage.subject_id == subject_id)
        .order_by(TrainingJob.created_at)
    )
    return [
        ModelSummary(j.id, j.kind, j.purpose, j.client_id, j.status, j.finished_at, j.id in flagged_jobs) for j in jobs
    ]


def flag_models_for_subject(session: Session, subject_id: uuid.UUID, *, reason: Literal["erased", "withdrawn"]) -> int:
    """Flag every model trained on ``subject_id``'s data; returns how many models carry the flag (idempotent)."""
    if reason not in ("erased", "withdrawn"):
        raise ValueError("reason must be 'erased' or 'withdrawn'")
    job_ids = list(session.scalars(select(TrainingLineage.job_id).where(TrainingLineage.subject_id == subject_id)))
    if not job_ids:
        return 0
    already = set(
        session.scalars(
            select(TrainingFlag.job_id).where(
                TrainingFlag.subject_id == subject_id, TrainingFlag.reason == reason, TrainingFlag.job_id.in_(job_ids)
            )
        )
    )
    new = [j for j in job_ids if j not in already]
    for job_id in new:
        session.add(TrainingFlag(job_id=job_id, subject_id=subject_id, reason=reason, flagged_at=utcnow()))
    if new:
        outbox.write(session, [_flag_message(subject_id, reason, new)])
        audit.record(
            session,
            actor=Principal.system("training"),
            action="training.model.flagged",
            target=("subject", subject_id),
            details={"reason": reason, "models": len(new), "model_ids": [str(j) for j in new][:50]},
        )
    session.flush()
    return len(job_ids)


def _flag_message(subject_id: uuid.UUID, reason: str, job_ids: Iterable[uuid.UUID]) -> outbox.OutboxEvent:
    """The broker's announcement of new model flags (the models' ids and why; the outbox relays it)."""
    return outbox.OutboxEvent(
        "training.model.flagged", subject_id, {"reason": reason, "model_ids": sorted(str(j) for j in job_ids)}
    )


def refresh_flags(session: Session, *, job_id: uuid.UUID | None = None) -> int:
    """Compare each model's lineage with consent's current ``check_many`` (and the vault's erasures); flag the
    people who have since withdrawn (or objected) or been erased. Returns the number of new flags."""
    query = select(TrainingJob).where(TrainingJob.status == "succeeded")
    if job_id is not None:
        query = query.where(TrainingJob.id == job_id)
    new_flags: dict[tuple[uuid.UUID, str], list[uuid.UUID]] = {}
    for job in list(session.scalars(query)):
        for subject_id, reason in _new_flags_of(session, job):
            session.add(TrainingFlag(job_id=job.id, subject_id=subject_id, reason=reason, flagged_at=utcnow()))
            new_flags.setdefault((subject_id, reason), []).append(job.id)
    added = sum(len(ids) for ids in new_flags.values())
    if added:
        outbox.write(session, [_flag_message(s, r, ids) for (s, r), ids in new_flags.items()])
        audit.record(
            session,
            actor=Principal.system("training"),
            action="training.flags.refreshed",
            target=("training_job", job_id) if job_id else None,
            details={"new_flags": added},
        )
    session.flush()
    return added


def _new_flags_of(session: Session, job: TrainingJob) -> Iterator[tuple[uuid.UUID, str]]:
    """(subject, reason) for each person in the job's lineage newly erased or withdrawn, not yet flagged so."""
    flagged = {
        (s, r)
        for s, r in session.execute(
            select(TrainingFlag.subject_id, TrainingFlag.reason).where(TrainingFlag.job_id == job.id)
        )
    }
    for batch in _batches(session.scalars(select(TrainingLineage.subject_id).where(TrainingLineage.job_id == job.id))):
        erased = set(vault_service.erased_ids(session, batch))
        permissions = consent_service.check_many(session, [s for s in batch if s not in erased], job.purpose)
        for subject_id in batch:
            if subject_id in erased:
                reason = "erased"
            elif not permissions[subject_id].allowed and permissions[subject_id].reason in WITHDRAWAL_REASONS:
                reason = "withdrawn"
            else:
                continue
            if (subject_id, reason) not in flagged:
                yield subject_id, reason


def _batches(ids: Iterable[uuid.UUID], size: int = 1000) -> Iterator[list[uuid.UUID]]:
    batch: list[uuid.UUID] = []
    for item in ids:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
