"""What callers see of a training job (`TrainingJobView`) and of a model that included a person (`ModelSummary`),
and the one loader every job function goes through (a client only ever finds its own jobs)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.access.principals import Principal
from governance.training.errors import TrainingJobNotFoundError
from governance.training.models import TERMINAL_STATUSES, TrainingFlag, TrainingJob

__all__ = ["ModelSummary", "TrainingJobView", "flag_count", "job_view", "load_job"]


@dataclass(frozen=True)
class TrainingJobView:
    id: uuid.UUID
    kind: str
    purpose: str
    client_id: str
    status: str
    cancel_requested: bool
    target_epsilon: str
    target_delta: str
    epsilon_spent: str | None
    delta_spent: str | None
    progress: dict[str, Any] | None
    metrics: dict[str, Any] | None
    n_subjects: int | None
    consent_snapshot_at: datetime | None
    release: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    retrain_of: uuid.UUID | None
    flagged_people: int
    flag_note: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class ModelSummary:
    """A model (succeeded training job) whose training data included a given person."""

    job_id: uuid.UUID
    kind: str
    purpose: str
    client_id: str
    status: str
    trained_at: datetime | None
    flagged: bool


def flag_count(session: Session, job_id: uuid.UUID) -> int:
    """How many distinct people in the job's training data have since been erased or withdrawn."""
    return int(
        session.scalar(select(func.count(func.distinct(TrainingFlag.subject_id))).where(TrainingFlag.job_id == job_id))
        or 0
    )


def job_view(session: Session, job: TrainingJob) -> TrainingJobView:
    flagged = flag_count(session, job.id)
    cancel_requested = job.cancel_requested and job.status not in TERMINAL_STATUSES
    return TrainingJobView(
        id=job.id,
        kind=job.kind,
        purpose=job.purpose,
        client_id=job.client_id,
        status=job.status,
        cancel_requested=cancel_requested,
        target_epsilon=job.target_epsilon,
        target_delta=job.target_delta,
        epsilon_spent=job.epsilon_spent,
        delta_spent=job.delta_spent,
        progress=job.progress,
        metrics=job.metrics,
        n_subjects=job.n_subjects,
        consent_snapshot_at=job.consent_snapshot_at,
        release=job.release,
        error_code=job.error_code,
        error_message=job.error_message,
        retrain_of=job.retrain_of,
        flagged_people=flagged,
        flag_note=(
            f"trained on data of {flagged} {'person who has' if flagged == 1 else 'people who have'} since "
            "erased their data or withdrawn consent"
            if flagged
            else None
        ),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def load_job(session: Session, job_id: uuid.UUID, principal: Principal | None = None) -> TrainingJob:
    """The job, or TrainingJobNotFoundError (also for a client asking about another client's job)."""
    job = session.get(TrainingJob, job_id)
    if job is None or (principal is not None and principal.kind == "client" and job.client_id != principal.id):
        raise TrainingJobNotFoundError()
    return job
