"""Request and response bodies of the training API (they also produce the OpenAPI document)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from governance import inputs
from governance.api import ResponseModel, StrictModel

ModelKind = Literal["classifier", "recommender", "dpl_logistic", "dpl_naive_bayes"]
OPACUS_KINDS = frozenset({"classifier", "recommender"})


class DatasetSpecIn(StrictModel):
    """The same dataset spec the gateway takes: profile fields, event categories and a time window."""

    fields: list[str] = Field(default_factory=list, max_length=50)
    event_categories: list[str] = Field(default_factory=list, max_length=50)
    since: datetime | None = None
    until: datetime | None = None

    @field_validator("since", "until")
    @classmethod
    def _in_window(cls, value: datetime | None) -> datetime | None:
        return inputs.check_data_window(value)

    def as_gateway_spec(self, *, purpose: str, kind: str) -> dict[str, Any]:
        """The gateway's DatasetSpec (governance.gateway.service). Only the event fields the model needs are
        asked for (a recommender needs the item, a classifier only the category), and no timestamps: fewer
        quasi-identifiers means fewer rows suppressed by k-anonymity. Pseudonyms are fresh per build."""
        return {
            "purpose": purpose,
            "profile_fields": list(self.fields),
            "event_categories": list(self.event_categories),
            "event_fields": ["category", "item"] if kind == "recommender" else ["category"],
            "since": self.since,
            "until": self.until,
            "format": "jsonl",
            "pseudonyms": "per_release",
            "mode": "training_input",  # read inside the service by the DP training job, never released
        }


class PrivacyIn(StrictModel):
    epsilon: float = Field(gt=0, description="target epsilon (at most the policy cap, default 10)")
    delta: float = Field(ge=0, lt=1, description="target delta: at most 1/(10 N); 0 for the diffprivlib kinds")


class LabelIn(StrictModel):
    """The label a classifier predicts: whether the person has an event of this category in the window."""

    event_category: str = Field(min_length=1, max_length=60)


class TrainingIn(StrictModel):
    epochs: int = Field(5, ge=1)
    batch_size: int = Field(256, ge=1, description="expected batch size under Poisson sampling")
    max_physical_batch_size: int = Field(256, ge=1)
    max_grad_norm: float = Field(1.0, gt=0, le=100)
    learning_rate: float | None = Field(None, gt=0, le=10)
    seed: int = Field(0, ge=0, lt=2**31)
    hidden_units: int = Field(32, ge=0, le=1024)
    embedding_dim: int = Field(32, ge=2, le=512)
    max_interactions: int | None = Field(None, ge=1, description="M: interactions per person (recommender)")
    holdout_fraction: float = Field(0.2, ge=0.05, le=0.5)
    k: int = Field(10, ge=1, le=100)


class TrainingJobIn(StrictModel):
    purpose: str = Field(min_length=1, max_length=100)
    kind: ModelKind
    dataset: DatasetSpecIn
    privacy: PrivacyIn
    training: TrainingIn = Field(default_factory=TrainingIn)
    label: LabelIn | None = None
    items: list[str] | None = Field(None, description="the public item catalogue a recommender ranks")


class TrainingPreviewIn(TrainingJobIn):
    """A training request to preview (nothing is read or spent). ``assumed_people`` is the caller's own public
    guess of the number of people: the sample rate, and so the noise, depend on it."""

    assumed_people: int | None = Field(None, ge=1, le=10**9)

    def job(self) -> TrainingJobIn:
        return TrainingJobIn.model_validate(self.model_dump(exclude={"assumed_people"}))


class JobPath(BaseModel):
    job_id: uuid.UUID


class TokenPath(BaseModel):
    token: str = Field(max_length=1000)


class TrainingJobOut(ResponseModel):
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


class TrainingJobList(BaseModel):
    jobs: list[TrainingJobOut]


class DownloadLinkOut(BaseModel):
    weights_url: str
    model_card_url: str
    expires_at: datetime
    weights_sha256: str
