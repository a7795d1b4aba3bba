"""Training tables: jobs, their lineage (which people's data they used), model artifacts and flags."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from governance.db import Base, UTCDateTime, created_at, utcnow, uuid_pk

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
FLAG_REASONS = ("erased", "withdrawn")


class TrainingJob(Base):
    """One DP training job: what was asked, what it may spend (reserved) and did spend, progress and outcome.

    Epsilon and delta are stored as decimal strings (exact on both databases). ``release`` is the lineage of the
    dataset build used (release id, manifest, consent snapshot time); the people are in ``TrainingLineage``.
    """

    __tablename__ = "training_jobs"

    id: Mapped[uuid_pk]
    client_id: Mapped[str] = mapped_column(String(100), index=True)
    purpose: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    spec: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="queued")
    target_epsilon: Mapped[str] = mapped_column(String(40))
    target_delta: Mapped[str] = mapped_column(String(40))
    epsilon_spent: Mapped[str | None] = mapped_column(String(40))
    delta_spent: Mapped[str | None] = mapped_column(String(40))
    reservation_id: Mapped[uuid.UUID | None]
    budget_settled: Mapped[bool] = mapped_column(default=False)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    queue_job_id: Mapped[uuid.UUID | None]
    progress: Mapped[dict[str, Any] | None]
    release: Mapped[dict[str, Any] | None]
    consent_snapshot_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    n_subjects: Mapped[int | None] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any] | None]
    privacy_report: Mapped[dict[str, Any] | None]
    timings: Mapped[dict[str, Any] | None]
    error_code: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(String(500))
    retrain_of: Mapped[uuid.UUID | None]
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[created_at]
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_training_jobs_status", "status"),)


class TrainingLineage(Base):
    """The people whose data a job trained on (subject ids from the gateway's lineage, never pseudonyms)."""

    __tablename__ = "training_lineage"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("training_jobs.id", ondelete="CASCADE"), primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, index=True)


class TrainingArtifact(Base):
    """A trained model: safetensors weights (no ids, no pseudonyms) and its model card."""

    __tablename__ = "training_artifacts"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("training_jobs.id", ondelete="CASCADE"), primary_key=True)
    weights: Mapped[bytes] = mapped_column(LargeBinary)
    weights_sha256: Mapped[str] = mapped_column(String(64))
    model_card: Mapped[dict[str, Any]]
    created_at: Mapped[created_at]


class TrainingFlag(Base):
    """A person in a model's lineage who has since been erased or withdrawn consent for its purpose."""

    __tablename__ = "training_flags"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("training_jobs.id", ondelete="CASCADE"), primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(String(16), primary_key=True)
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
