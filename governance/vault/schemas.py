"""Request and response bodies of the vault API (they also produce its OpenAPI description)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema

from governance.api import ResponseModel, StrictModel

MAX_EVENTS = 10_000


class SubjectPath(BaseModel):
    subject_id: uuid.UUID


class CreateSubjectBody(StrictModel):
    external_ref: str = Field(min_length=1, max_length=128, description="the product's own user reference")
    jurisdiction: str = Field(default="EU", max_length=16, description="EU, a country code, or US-CA style")
    profile: dict[str, Any] | None = Field(
        default=None, description="profile fields by name (policies/categories.yaml); validated, then encrypted"
    )


class SubjectOut(ResponseModel):
    id: uuid.UUID
    jurisdiction: str
    status: str
    created_at: datetime
    erased_at: datetime | None = None


class LookupBody(StrictModel):
    """Find a subject by the product's reference or by email (sent in the body so it never lands in URLs)."""

    external_ref: str | None = Field(default=None, max_length=128)
    email: str | None = Field(default=None, max_length=254)


class ProfileBody(StrictModel):
    fields: dict[str, Any] = Field(description="field name → new value; null deletes the field")


class ProfileChangedOut(BaseModel):
    changed: list[str]


class ProfileQuery(StrictModel):
    view: Literal["clear", "masked", "summary"] | None = Field(
        default=None, description="default: the fullest view the caller may see"
    )


class BreakGlassBody(StrictModel):
    reason: str = Field(min_length=10, max_length=200, description="why the clear values are needed (audited)")


class ProfileOut(BaseModel):
    subject_id: uuid.UUID
    view: Literal["clear", "masked", "summary"]
    fields: dict[str, str] | None = None
    fields_present: list[str] | None = None
    event_counts: dict[str, int] | None = None
    events_total: int | None = None


class EventIn(BaseModel):
    """One behaviour event (documentation of the shape; each event is validated on its own so that one bad
    event does not fail the batch)."""

    event_id: str = Field(min_length=1, max_length=128, description="idempotency key, unique per subject")
    category: str = Field(description="view, click, purchase, rating, search, chat_intent")
    occurred_at: datetime = Field(description="ISO 8601 with time zone")
    item_id: str | None = Field(default=None, max_length=128)
    value: float | None = Field(default=None, description="dwell seconds, amount, stars... per category")
    context: dict[str, str | float] | None = Field(default=None, description="time_of_day, device, ...")


# The list is taken as it is (pydantic only checks it is a list of at most 10,000): the service judges each event
# alone and reports a non-object by index. Validating `list[dict[str, Any]]` here copied every event dict (about
# 30 ms per 10,000 events, a sixth of the route's overhead over the service).
_EVENT_LIST = WithJsonSchema({"type": "array", "items": {"type": "object"}, "maxItems": MAX_EVENTS})


class EventBatchBody(StrictModel):
    events: Annotated[list[Any], _EVENT_LIST] = Field(
        max_length=MAX_EVENTS, description="up to 10,000 events shaped like EventIn"
    )


class MixedEventBatchBody(StrictModel):
    events: Annotated[list[Any], _EVENT_LIST] = Field(
        max_length=MAX_EVENTS, description="up to 10,000 events shaped like EventIn, each with its subject_id"
    )


class EventRejectionOut(BaseModel):
    index: int
    event_id: str | None
    error: str
    message: str


class IntakeOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[EventRejectionOut]
    by_category: dict[str, int]


class MixedIntakeOut(IntakeOut):
    subjects: int


class EventsQuery(StrictModel):
    category: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=1000, ge=1, le=10_000)


class EventOut(BaseModel):
    event_id: str
    category: str
    occurred_at: datetime
    item_id: str | None
    value: float | None
    context: dict[str, Any]


class EventsOut(BaseModel):
    events: list[EventOut]
    next_since: datetime | None = None


class RotationOut(ResponseModel):
    id: uuid.UUID
    target_version: int
    status: str
    job_id: uuid.UUID | None
    total: int
    done: int
    started_at: datetime
    finished_at: datetime | None
    retired_versions: list[int]


class KeyVersionOut(BaseModel):
    version: int
    state: str
    provider: str
    data_keys: int
    created_at: datetime
    retired_at: datetime | None
    destroy_after: datetime | None = Field(
        default=None, description="When a retired version's key material is destroyed (retired + backup retention)."
    )
    destroyed_at: datetime | None = Field(default=None, description="When the key provider destroyed it.")


class KeyEpochsOut(BaseModel):
    epoch_days: float
    backup_retention_days: float
    automatic: bool = Field(description="The provider creates and destroys versions itself (false: environment).")
    next_epoch_at: datetime | None
    epoch_overdue: bool = Field(description="The next epoch should have opened a day ago: is the job worker running?")
    destruction_overdue: list[int] = Field(description="Retired versions past their destruction date still held.")


class KeyStatusOut(BaseModel):
    versions: list[KeyVersionOut]
    rotations: list[RotationOut]
    epochs: KeyEpochsOut


class DataKeyRotatedOut(BaseModel):
    subject_id: uuid.UUID
    key_version: int
