"""The export bundle's JSON document (`export.json`), as pydantic models.

These models are the schema: `ExportDocument.model_json_schema()` is the JSON Schema printed in
docs/requests.md (a test keeps the two equal), and tests validate every bundle written against them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_ID = "urn:governance:export-bundle:1"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BundleRequest(_Doc):
    id: str = Field(description="The request this bundle answers.")
    kind: Literal["access", "portability"]
    received_at: datetime
    jurisdiction: str


class BundleSubject(_Doc):
    id: str = Field(description="The service's internal id for you (not an identifier from elsewhere).")
    jurisdiction: str | None = None
    created_at: datetime | None = None


class ConsentDecision(_Doc):
    purpose: str
    decision: str = Field(description="granted, withdrawn, objected, expired …")
    notice_version: str | None = None
    method: str | None = None
    occurred_at: datetime | None = None
    receipt_id: str | None = None


class ConsentReceipt(_Doc):
    receipt_id: str
    issued_at: datetime | None = None
    content: dict[str, Any] = Field(description="The receipt as issued, including its signature.")


class Event(_Doc):
    id: str
    category: str
    occurred_at: datetime | None = None
    data: dict[str, Any]


class RequestRecord(_Doc):
    id: str
    kind: str
    status: str
    received_at: datetime
    due_on: str | None = None
    closed_at: datetime | None = None


class DatasetRelease(_Doc):
    release_id: str
    purpose: str
    released_at: datetime | None = None
    recipient: str | None = Field(default=None, description="The client (model service) the release went to.")


class TrainingJob(_Doc):
    model_id: str
    purpose: str
    trained_at: datetime | None = None
    status: str | None = None
    flagged: bool | None = Field(default=None, description="Marked as trained on data that was later withdrawn.")


class FileEntry(_Doc):
    name: str
    rows: int
    sha256: str


class ExportDocument(_Doc):
    """Everything the service holds about one data subject, in one machine-readable document."""

    schema_: Literal["urn:governance:export-bundle:1"] = Field(
        alias="$schema", default="urn:governance:export-bundle:1"
    )
    generated_at: datetime
    request: BundleRequest
    subject: BundleSubject
    profile: dict[str, Any] = Field(description="Profile fields in clear, by field name.")
    consent_decisions: list[ConsentDecision]
    consent_receipts: list[ConsentReceipt]
    events: list[Event]
    requests: list[RequestRecord]
    dataset_releases: list[DatasetRelease]
    training_jobs: list[TrainingJob]
    files: list[FileEntry] = Field(description="The CSV files beside this document, with row counts and hashes.")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of `export.json` (draft 2020-12, as pydantic emits it)."""
    schema = ExportDocument.model_json_schema(by_alias=True)
    schema["$id"] = SCHEMA_ID
    return schema
