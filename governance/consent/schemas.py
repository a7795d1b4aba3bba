"""Request and response bodies of the consent API (they also produce the OpenAPI document)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from governance.api import StrictModel

MAX_DECISIONS = 50
MAX_BULK_CHECK = 10_000
MAX_IMPORT_BYTES = 5 * 1024 * 1024


class SubjectPath(BaseModel):
    subject_id: uuid.UUID


class DecisionBody(StrictModel):
    purpose: str = Field(min_length=1, max_length=100)
    decision: Literal["granted", "withdrawn"]
    collected_at: AwareDatetime | None = Field(
        default=None, description="when the subject decided (default: now); not in the future"
    )
    notice_version: int | None = Field(default=None, ge=1, description="the notice shown (default: current)")


class EvidenceBody(StrictModel):
    """Evidence of how the decision was collected; never personal data (hash the user agent, do not send it)."""

    banner_id: str | None = Field(default=None, max_length=128)
    ui_element: str | None = Field(default=None, max_length=128)
    page: str | None = Field(default=None, max_length=128)
    user_agent_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    ip_network_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class RecordDecisionsBody(StrictModel):
    decisions: list[DecisionBody] = Field(default_factory=list, max_length=MAX_DECISIONS)
    jurisdiction: str | None = Field(default=None, max_length=16, description="ISO 3166 code, EU, US-CA…")
    evidence: EvidenceBody | None = None
    gpc: bool = Field(default=False, description="the product forwards a Global Privacy Control signal")


class PermissionOut(BaseModel):
    allowed: bool
    reason: str


class CheckQuery(StrictModel):
    subject: uuid.UUID
    purpose: str = Field(min_length=1, max_length=100)


class CheckOut(PermissionOut):
    subject_id: uuid.UUID
    purpose: str


class BulkCheckBody(StrictModel):
    purpose: str = Field(min_length=1, max_length=100)
    subject_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_BULK_CHECK)


class BulkCheckOut(BaseModel):
    purpose: str
    results: dict[str, PermissionOut]


class ObjectionBody(StrictModel):
    purposes: list[str] = Field(min_length=1, max_length=MAX_DECISIONS)
    lift: bool = Field(default=False, description="withdraw an earlier objection instead")


class VerifyBody(StrictModel):
    jws: str = Field(min_length=1, max_length=64_000)


class ImportBody(StrictModel):
    format: Literal["csv", "jsonl"]
    source: str = Field(min_length=1, max_length=120, description="the platform the records come from")
    content: str = Field(min_length=1, description="the file, as text (UTF-8)")


class ImportPath(BaseModel):
    import_id: uuid.UUID


class ProcessorBody(StrictModel):
    name: str = Field(min_length=1, max_length=120)
    url: str = Field(min_length=8, max_length=2000)
    events: list[str] = Field(
        default_factory=lambda: ["consent.withdrawn", "consent.expired", "consent.objected"], max_length=20
    )
    purposes: list[str] | None = Field(default=None, max_length=50)


class ProcessorPath(BaseModel):
    processor_id: uuid.UUID


class DeliveryPath(BaseModel):
    delivery_id: uuid.UUID


class PurposePath(BaseModel):
    key: str = Field(max_length=100)


class NoticePath(BaseModel):
    key: str = Field(max_length=100)
    version: int = Field(ge=1)


class ReceiptsOut(BaseModel):
    subject_id: uuid.UUID
    receipts: list[dict[str, Any]]


class StatusOut(BaseModel):
    purpose: str
    title: str
    legal_basis: str
    allowed: bool
    reason: str
    decision: str | None
    decided_at: datetime | None
    notice_version: int | None
    current_notice_version: int
    needs_renewal: bool
    expires_at: datetime | None
    objected: bool
    sale_or_sharing: bool


class PurposeStateOut(StatusOut):
    description: str


class StateOut(BaseModel):
    subject_id: uuid.UUID
    purposes: list[PurposeStateOut]


class ConsentEventOut(BaseModel):
    id: uuid.UUID
    purpose: str
    decision: str
    seq: int
    collected_at: datetime
    recorded_at: datetime
    notice_version: int
    notice_sha256: str
    method: str
    jurisdiction: str
    actor_kind: str
    superseded: bool
    evidence: dict[str, Any]


class HistoryOut(BaseModel):
    subject_id: uuid.UUID
    events: list[ConsentEventOut]


class ReceiptOut(BaseModel):
    record_id: uuid.UUID
    purpose: str
    decision: str
    superseded: bool
    receipt: dict[str, Any] = Field(description="the signed receipt's claims")
    jws: str = Field(description="the receipt as a compact JWS")


class RecordedOut(BaseModel):
    subject_id: uuid.UUID
    receipts: list[ReceiptOut]
    gpc_withdrawn: list[str]


class ObjectionOut(BaseModel):
    subject_id: uuid.UUID
    purposes: list[str]
    objected: bool


class VerifyOut(BaseModel):
    valid: bool
    receipt: dict[str, Any] | None = None
    in_ledger: bool | None = None
    current: bool | None = None
    error: str | None = Field(default=None, description="invalid_receipt when the signature does not verify")
    message: str | None = None


class ImportOut(BaseModel):
    import_id: uuid.UUID
    status: str
    format: str
    source: str
    content_sha256: str | None
    total_rows: int | None
    imported_rows: int | None
    rejected_rows: int | None
    job_id: uuid.UUID | None
    report: dict[str, Any] | None
    created_at: datetime
    finished_at: datetime | None


class ImportRejectedOut(BaseModel):
    """422: the file was rejected as a whole and nothing was imported (the shared error body, with the report)."""

    error: str
    message: str
    fields: dict[str, str] | None = None
    request_id: str | None = None
    import_: ImportOut | None = Field(default=None, alias="import", description="the import and its report")


class ProcessorOut(BaseModel):
    id: uuid.UUID
    name: str
    url: str
    events: list[str]
    purposes: list[str] | None
    active: bool
    secret_version: int
    created_at: datetime


class ProcessorSecretOut(ProcessorOut):
    secret: str = Field(description="the webhook signing secret, shown once")


class ProcessorList(BaseModel):
    processors: list[ProcessorOut]


class DeliveryOut(BaseModel):
    id: uuid.UUID
    processor_id: uuid.UUID
    event: str
    subject_id: uuid.UUID
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


class NoticeOut(BaseModel):
    version: int
    sha256: str
    published: str
    renewal_from_version: int | None


class PurposeOut(BaseModel):
    key: str
    title: str
    description: str
    legal_basis: str
    profile_fields: list[str]
    event_categories: list[str]
    retention_days: int | None
    sale_or_sharing: bool
    max_consent_age_days: int | None
    notice: NoticeOut


class PurposeList(BaseModel):
    purposes: list[PurposeOut]


class JwkSet(BaseModel):
    keys: list[dict[str, Any]]
