"""Tables of the requests domain: requests, export bundles (sealed) and their download links.

No foreign key points into another domain's tables: `subject_id` is the vault's id, kept as a plain value so that
the request and its audit trail survive the subject's erasure (the tombstone).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from governance.db import Base, UTCDateTime, created_at, utcnow, uuid_pk


class DataSubjectRequest(Base):
    """One data subject request and everything needed to prove how and when it was answered."""

    __tablename__ = "requests_dsr"

    id: Mapped[uuid_pk]
    subject_id: Mapped[uuid.UUID] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(24))
    jurisdiction: Mapped[str] = mapped_column(String(20))
    #: who filed it: subject (dashboard session), client (product backend), staff (support on the subject's behalf)
    source: Mapped[str] = mapped_column(String(10))
    filed_by: Mapped[str] = mapped_column(String(140))
    #: how identity was verified (session, or the method the backend or staff member recorded)
    verification_method: Mapped[str | None] = mapped_column(String(60))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_on: Mapped[date] = mapped_column(Date)
    confirm_by: Mapped[date | None] = mapped_column(Date)
    #: when the requester was told the request was received and how it will be handled (CCPA §7021(a))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: how: dashboard (the subject's own session), verification, response, or what staff recorded
    confirmation_method: Mapped[str | None] = mapped_column(String(60))
    original_due_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    extensions: Mapped[list[Any]] = mapped_column(default=list)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejection_code: Mapped[str | None] = mapped_column(String(40))
    #: the text the subject reads (rejection reason); never copied into the audit log
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    outcome_items: Mapped[list[Any]] = mapped_column(default=list)
    #: kind-specific, non-personal parameters (objection purposes, rectified field names)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: "<subject>:<kind>" while open, NULL once closed: a unique index makes duplicates merge, even under races
    open_key: Mapped[str | None] = mapped_column(String(60), unique=True)
    merged_count: Mapped[int] = mapped_column(Integer, default=0)
    #: the persisted step marker of the export/erasure job (see tasks.py)
    step: Mapped[str] = mapped_column(String(30), default="new")
    job_id: Mapped[uuid.UUID | None]
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    certificate: Mapped[str | None] = mapped_column(Text)
    overdue_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the staff account (access domain id, a plain value) working on the request; None while unassigned
    owner_staff_id: Mapped[uuid.UUID | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_requests_dsr_status_due_on", "status", "due_on"),)


class RequestNote(Base):
    """An internal note by staff on a request (never shown to the person; deleted when the person is erased,
    since staff may have written about them)."""

    __tablename__ = "requests_notes"

    id: Mapped[uuid_pk]
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("requests_dsr.id", ondelete="CASCADE"), index=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(index=True)
    staff_id: Mapped[uuid.UUID]
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[created_at]


class ExportBundle(Base):
    """An export's ZIP, sealed with its own key (stored wrapped). Deleted (content and key) after retention."""

    __tablename__ = "requests_bundles"

    id: Mapped[uuid_pk]
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("requests_dsr.id"), unique=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(index=True)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    kek_name: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    event_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[created_at]
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DownloadLink(Base):
    """A one-session download link: the token is stored hashed; the first session to use it owns it."""

    __tablename__ = "requests_download_links"

    id: Mapped[uuid_pk]
    bundle_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("requests_bundles.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_to: Mapped[str] = mapped_column(String(140))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    bound_to: Mapped[str | None] = mapped_column(String(140))
    first_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[created_at]
