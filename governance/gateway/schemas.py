"""Request and response models of the gateway API (they also produce the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from governance import inputs
from governance.api import ResponseModel, StrictModel

Name = str


class DatasetSpecBody(StrictModel):
    purpose: str = Field(min_length=2, max_length=64)
    profile_fields: list[str] = Field(default_factory=list, max_length=50)
    event_categories: list[str] = Field(default_factory=list, max_length=50)
    event_fields: list[str] = Field(default_factory=lambda: ["category", "occurred_at"], max_length=20)
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    format: Literal["jsonl", "csv", "parquet"] = "jsonl"
    pseudonyms: Literal["per_release", "stable"] = "per_release"
    mode: Literal["pseudonymized_rows", "dp_synthetic"] = Field(
        default="pseudonymized_rows",
        description="pseudonymized_rows: row-level pseudonymized personal data (k per person); "
        "dp_synthetic: synthetic rows from a differentially private generator",
    )

    @field_validator("since", "until")
    @classmethod
    def _in_window(cls, value: dt.datetime | None) -> dt.datetime | None:
        """ISO 8601 with a zone is the shared rule (StrictModel); the range is the gateway's."""
        return inputs.check_data_window(value)


class ReleasePath(BaseModel):
    release_id: uuid.UUID


class DownloadQuery(StrictModel):
    token: str = Field(min_length=20, max_length=100)


class BudgetPath(BaseModel):
    purpose: str = Field(min_length=2, max_length=64)


class ReleaseOut(ResponseModel):
    release_id: uuid.UUID
    status: str
    purpose: str
    format: str
    pseudonyms: str
    mode: str
    data_classification: str
    job_id: uuid.UUID | None
    created_at: dt.datetime
    completed_at: dt.datetime | None = None
    checksum_sha256: str | None = None
    rows: int | None = None
    k_required: int
    k_achieved: int | None = None
    error_code: str | None = None
    progress: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = None


class LinkOut(BaseModel):
    url: str
    expires_at: dt.datetime
    checksum_sha256: str
    bytes: int


class DPQueryBody(StrictModel):
    purpose: str = Field(min_length=2, max_length=64)
    statistic: Literal["count", "sum", "mean", "variance", "histogram", "quantiles"]
    epsilon: Decimal = Field(gt=0, le=10, max_digits=12, decimal_places=6)
    event_category: str | None = Field(default=None, max_length=64)
    profile_value: Literal["age"] | None = None
    bounds: tuple[float, float] | None = None
    max_rows_per_subject: int = Field(default=1, ge=1, le=1000)
    bins: int = Field(default=10, ge=1, le=1000)
    quantiles: list[float] = Field(default_factory=lambda: [0.5], min_length=1, max_length=99)
    # what a histogram bins: the events' values (decrypted) or their times (stored in clear: binned in SQL,
    # nothing decrypted), between since (inclusive) and until (exclusive)
    over: Literal["value", "occurred_at"] = "value"
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @field_validator("bounds")
    @classmethod
    def _finite(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not all(math.isfinite(v) for v in value):
            raise ValueError("bounds must be finite numbers")
        return value

    @field_validator("since", "until")
    @classmethod
    def _in_window(cls, value: dt.datetime | None) -> dt.datetime | None:
        """ISO 8601 with a zone is the shared rule (StrictModel); the range is the gateway's, as for releases."""
        return inputs.check_data_window(value)


class DPQueryPreviewBody(DPQueryBody):
    """A DP query to preview: nothing is read or spent. ``assumed_rows`` (public, the caller's own guess) sizes
    the expected error of a mean or variance, which depends on the private row count."""

    assumed_rows: int | None = Field(default=None, ge=1, le=10**12)


class PreviewOut(BaseModel):
    kind: str
    purpose: str
    epsilon: str
    delta: str
    budget: dict[str, Any]
    expected_accuracy: dict[str, Any]
    unit_of_privacy: str
    neighbouring: str
    cost: str


class DPQueryOut(BaseModel):
    query_id: uuid.UUID
    purpose: str
    statistic: str
    result: dict[str, Any]
    created_at: dt.datetime


class BudgetOut(BaseModel):
    purpose: dict[str, Any]
    client: dict[str, Any] | None = None


class SyntheticSpecBody(StrictModel):
    """A DP synthetic release (mode `dp_synthetic`): one synthetic row per synthetic person, with the asked profile
    fields (their public categories) and, per event category, a bucketed event count."""

    purpose: str = Field(min_length=2, max_length=64)
    profile_fields: list[str] = Field(default_factory=list, max_length=20)
    event_categories: list[str] = Field(default_factory=list, max_length=20)
    epsilon: Decimal = Field(gt=0, le=10, max_digits=12, decimal_places=6)
    delta: Decimal | None = Field(default=None, gt=0, lt=Decimal("0.001"), max_digits=20, decimal_places=15)
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    format: Literal["jsonl", "csv", "parquet"] = "csv"
    utility_target: str | None = Field(default=None, max_length=80)

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a timezone (for example Z)")
        return value
