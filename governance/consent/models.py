"""Consent tables: the append-only ledger, the derived current state, idempotency keys, imports, processors and
webhook deliveries. Other domains never touch these: they call `governance.consent.service`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from governance.db import Base, UTCDateTime, utcnow


class ConsentEvent(Base):
    """One decision as collected, never updated or deleted (the proof required by GDPR Art. 7(1)).

    `seq` numbers the events of one (subject, purpose) in recording order; it is allocated under the row lock
    of the state row, and the unique constraint makes a lost update impossible even if a lock were skipped.
    """

    __tablename__ = "consent_events"
    __table_args__ = (
        sa.UniqueConstraint("subject_id", "purpose", "seq"),
        sa.UniqueConstraint("import_id", "import_row"),
        sa.Index("ix_consent_events_subject_id_recorded_at", "subject_id", "recorded_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False)
    purpose: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    seq: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    decision: Mapped[str] = mapped_column(sa.String(24), nullable=False)
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    notice_version: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    notice_sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    method: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    jurisdiction: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    actor_kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    actor_id: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    superseded: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    evidence: Mapped[dict[str, Any]] = mapped_column(nullable=False, default=dict)
    import_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    import_row: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    receipt_jws: Mapped[str] = mapped_column(sa.Text, nullable=False)


class ConsentState(Base):
    """The current state of one (subject, purpose), derived from the ledger in the same transaction.

    `is_permitted` reads one row of this table by primary key; `iter_permitted_subjects` scans the
    (purpose, decision) index.
    """

    __tablename__ = "consent_state"
    # Two covering indexes, so neither bulk read visits the table:
    # - (purpose, decision, …) for `iter_permitted_subjects`: the range of one purpose's granted rows;
    # - (purpose, subject_id, …) for `check_many`: one index probe per asked subject. Without it SQLite (which has
    #   no statistics) answered `purpose = ? AND subject_id IN (…)` by scanning every row of the purpose in the
    #   first index, once per chunk of ids.
    __table_args__ = (
        sa.Index(
            "ix_consent_state_purpose_decision",
            "purpose", "decision", "subject_id", "notice_version", "objected", "decided_at",
        ),
        sa.Index(
            "ix_consent_state_purpose_subject",
            "purpose", "subject_id", "decision", "notice_version", "objected", "decided_at",
        ),
    )  # fmt: skip

    subject_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    purpose: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    decision: Mapped[str | None] = mapped_column(sa.String(24), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_seq: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    notice_version: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    objected: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    objection_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    objection_seq: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    last_seq: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class ConsentIdempotencyKey(Base):
    """A write's `Idempotency-Key`: the same key and body replays the first response; another body is 409."""

    __tablename__ = "consent_idempotency_keys"

    actor: Mapped[str] = mapped_column(sa.String(160), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False)
    response: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class ConsentImport(Base):
    """A bulk import from another consent platform: the file, its provenance, progress and the report."""

    __tablename__ = "consent_imports"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)  # queued, running, done, rejected
    format: Mapped[str] = mapped_column(sa.String(8), nullable=False)  # csv, jsonl
    source: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    content_sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    content: Mapped[bytes | None] = mapped_column(sa.LargeBinary, nullable=True)  # dropped when finished
    total_rows: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    imported_rows: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    rejected_rows: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    next_row: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(nullable=False, default=dict)
    job_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    created_by: Mapped[str] = mapped_column(sa.String(160), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Processor(Base):
    """A downstream system told about withdrawals and expiries by signed webhook (registered by an admin)."""

    __tablename__ = "consent_processors"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False, unique=True)
    url: Mapped[str] = mapped_column(sa.String(2000), nullable=False)
    events: Mapped[list[Any]] = mapped_column(nullable=False)
    purposes: Mapped[list[Any] | None] = mapped_column(nullable=True)  # None: every purpose
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    secret_version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    created_by: Mapped[str] = mapped_column(sa.String(160), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class WebhookDelivery(Base):
    """One webhook to one processor; retried by the job worker until the processor answers 2xx."""

    __tablename__ = "consent_webhook_deliveries"
    __table_args__ = (sa.Index("ix_consent_webhook_deliveries_status_created_at", "status", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    processor_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("consent_processors.id", ondelete="CASCADE"), nullable=False, index=True
    )
    event: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="pending")  # pending/delivered/failed
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    job_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ReceiptSigningKey(Base):
    """A public key that has signed consent receipts, kept for as long as receipts exist (verification after the
    signing key rotates). Written in the same transaction as the first receipt a key signs in a process."""

    __tablename__ = "consent_receipt_keys"

    kid: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # RFC 7638 thumbprint
    public_jwk: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    first_used_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
