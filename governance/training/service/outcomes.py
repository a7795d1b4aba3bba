"""How a training job ends (succeeded, cancelled, failed): settle its budget, store the artifact and lineage, and
audit the outcome, in the caller's transaction. The runner calls these and commits; so does the reconcile job."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import Principal
from governance.db import utcnow
from governance.jobs import get_job as get_queue_job
from governance.training.ml.artifacts import weights_to_bytes
from governance.training.models import TrainingArtifact, TrainingJob, TrainingLineage
from governance.training.schemas import OPACUS_KINDS, TrainingJobIn
from governance.training.service.budget import settle, spent_epsilon
from governance.training.service.reports import finished_card, public_manifest, public_metrics

if TYPE_CHECKING:  # pragma: no cover - typing only
    from governance.training.ml.counts import NoisyCounts
    from governance.training.ml.result import TrainedModel

__all__ = [
    "LINEAGE_BATCH",
    "BuildParts",
    "finish_cancelled",
    "finish_failed",
    "finish_succeeded",
    "reconcile_orphaned_jobs",
]

LINEAGE_BATCH = 5_000


@dataclass
class BuildParts:
    """The lineage and provenance of the gateway's DatasetBuild a job trained on."""

    subject_ids: list[uuid.UUID]
    release_id: Any
    manifest: dict[str, Any]
    snapshot_at: datetime


def finish_cancelled(
    session: Session, job: TrainingJob, model: TrainedModel | None, *, count_epsilon: float = 0.0
) -> None:
    """Commit the epsilon the completed steps actually spent plus the DP counts' share (none if training never
    started), refund the rest."""
    if model is None or model.privacy.get("steps", 0) == 0:
        settle(session, job, epsilon=None, delta=None)
    else:
        spent = spent_epsilon(model.privacy["epsilon"] + count_epsilon, Decimal(job.target_epsilon))
        settle(session, job, epsilon=spent, delta=Decimal(job.target_delta))
        job.privacy_report = model.privacy
    job.status, job.finished_at = "cancelled", utcnow()
    audit.record(
        session,
        actor=Principal.system("training"),
        action="training.job.cancelled",
        target=("training_job", job.id),
        details={"epsilon_spent": job.epsilon_spent, "delta_spent": job.delta_spent},
    )


def finish_failed(session: Session, job: TrainingJob, *, code: str, message: str) -> None:
    """Fail the job and refund its whole reservation."""
    settle(session, job, epsilon=None, delta=None)
    job.status, job.finished_at = "failed", utcnow()
    job.error_code, job.error_message = code[:100], message[:500]
    audit.record(
        session,
        actor=Principal.system("training"),
        action="training.job.failed",
        target=("training_job", job.id),
        details={"error_code": job.error_code, "refunded": True},
    )


def finish_succeeded(
    session: Session,
    job: TrainingJob,
    model: TrainedModel,
    parts: BuildParts,
    pseudonyms: set[str],
    body: TrainingJobIn,
    counts: NoisyCounts,
) -> None:
    """Commit the spend, store the weights (checked free of ids and pseudonyms), the card and the lineage."""
    subject_ids = {s if isinstance(s, uuid.UUID) else uuid.UUID(str(s)) for s in parts.subject_ids}
    forbidden = pseudonyms | {str(s) for s in subject_ids}
    weights = weights_to_bytes(model.weights, architecture=model.architecture, kind=model.kind, forbidden=forbidden)
    pure = body.kind not in OPACUS_KINDS
    # basic composition: the training's epsilon plus the card counts' share, within the reservation
    spent = spent_epsilon(model.privacy["epsilon"] + counts.epsilon, Decimal(job.target_epsilon))
    delta = Decimal(0) if pure else Decimal(job.target_delta)
    settle(session, job, epsilon=spent, delta=delta)
    release = {
        "release_id": str(parts.release_id) if parts.release_id is not None else None,
        "manifest": public_manifest(parts.manifest),
        "dataset_spec": body.dataset.as_gateway_spec(purpose=job.purpose, kind=job.kind),
    }
    card = finished_card(job, model, release=release, snapshot_at=parts.snapshot_at, body=body, counts=counts)
    session.add(
        TrainingArtifact(
            job_id=job.id, weights=weights, weights_sha256=hashlib.sha256(weights).hexdigest(), model_card=card
        )
    )
    _store_lineage(session, job.id, subject_ids)
    _mark_succeeded(job, model, release=release, snapshot_at=parts.snapshot_at, counts=counts)
    audit.record(
        session,
        actor=Principal.system("training"),
        action="training.job.succeeded",
        target=("training_job", job.id),
        details={
            "kind": job.kind,
            "epsilon_spent": job.epsilon_spent,
            "delta_spent": job.delta_spent,
            "n_subjects": len(subject_ids),  # exact, for auditors only (the card and the job show the DP count)
            "release_id": release["release_id"],
        },
    )


def _store_lineage(session: Session, job_id: uuid.UUID, subject_ids: set[uuid.UUID]) -> None:
    """One lineage row per person trained on, inserted in batches (a job may train on millions)."""
    ids = sorted(subject_ids)
    for start in range(0, len(ids), LINEAGE_BATCH):
        session.add_all(TrainingLineage(job_id=job_id, subject_id=s) for s in ids[start : start + LINEAGE_BATCH])
        session.flush()


def _mark_succeeded(
    job: TrainingJob, model: TrainedModel, *, release: dict[str, Any], snapshot_at: datetime, counts: NoisyCounts
) -> None:
    job.release = release
    job.consent_snapshot_at = snapshot_at
    job.n_subjects = counts.people  # the DP count: the exact number is not shown to the client either
    job.metrics = public_metrics(model.metrics)
    job.privacy_report = model.privacy
    job.timings = model.timings
    job.progress = {**(job.progress or {}), "stage": "done"}
    job.status, job.finished_at = "succeeded", utcnow()
    job.error_code = None


def reconcile_orphaned_jobs(session: Session) -> int:
    """Fail (and refund) training jobs whose queue job ended without the handler finishing them, e.g. a worker
    that died on the last allowed attempt. Returns how many were reconciled."""
    reconciled = 0
    open_jobs = session.scalars(
        select(TrainingJob).where(TrainingJob.status.in_(("queued", "running")), TrainingJob.queue_job_id.is_not(None))
    )
    for job in list(open_jobs):
        if job.queue_job_id is None:  # excluded by the query; narrows the type
            continue
        queue_status = get_queue_job(session, job.queue_job_id).status
        if queue_status == "cancelled":
            finish_cancelled(session, job, None)
        elif queue_status == "failed":
            finish_failed(session, job, code="worker_lost", message="the worker stopped; budget refunded")
        else:
            continue
        reconciled += 1
    session.flush()
    return reconciled
