"""The gateway's tables: releases (spec, manifest, lineage), download links, the privacy budget ledger, DP queries.

Lineage (`gateway_release_subjects`) keeps subject ids, never pseudonyms: it lets a subject's export and erasure
find the releases that included them without making two releases joinable.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from governance.db import Base, utcnow

RELEASE_STATES = ("queued", "running", "ready", "failed", "expired")
RESERVATION_STATES = ("reserved", "committed", "refunded")


class Release(Base):
    """One dataset release: what was asked, under which policy and consent snapshot, and what came out."""

    __tablename__ = "gateway_releases"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    client_id: Mapped[str] = mapped_column(String(128), index=True)
    purpose: Mapped[str] = mapped_column(String(64), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="queued")
    job_id: Mapped[uuid.UUID | None] = mapped_column()
    format: Mapped[str] = mapped_column(String(16))
    pseudonym_mode: Mapped[str] = mapped_column(String(16))
    policy_version: Mapped[str] = mapped_column(String(64))
    consent_snapshot_at: Mapped[datetime | None] = mapped_column()
    manifest: Mapped[dict[str, Any] | None] = mapped_column()
    rows_released: Mapped[int | None] = mapped_column(BigInteger)
    rows_suppressed: Mapped[int | None] = mapped_column(BigInteger)
    subjects_released: Mapped[int | None] = mapped_column(Integer)
    k_required: Mapped[int] = mapped_column(Integer)
    k_achieved: Mapped[int | None] = mapped_column(Integer)
    checksum_sha256: Mapped[str | None] = mapped_column(String(64))
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    file_name: Mapped[str | None] = mapped_column(String(200))
    error_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # the console lists the newest
    completed_at: Mapped[datetime | None] = mapped_column()
    file_expires_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        sa.CheckConstraint("status IN ('queued', 'running', 'ready', 'failed', 'expired')", name="status"),
    )


class ReleaseSubject(Base):
    """Lineage: subject `subject_id` has at least one row in release `release_id`."""

    __tablename__ = "gateway_release_subjects"

    release_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("gateway_releases.id", ondelete="CASCADE"), primary_key=True
    )
    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # the person's footprint in this release as an opaque digest (keyed with a per-release key that is thrown
    # away): equal digests = same footprint; lets a later joinable release be measured together with this one.
    # NULL for releases built before footprints were kept (a joinable release treats those people as unique).
    footprint: Mapped[bytes | None] = mapped_column(LargeBinary(16))

    __table_args__ = (Index("ix_gateway_release_subjects_subject_id", "subject_id"),)


class DownloadLink(Base):
    """An expiring download link; only the SHA-256 of its token is stored."""

    __tablename__ = "gateway_download_links"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    release_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gateway_releases.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    downloads: Mapped[int] = mapped_column(Integer, default=0)


class BudgetAccount(Base):
    """Running totals of one budget: a purpose (`client_id` = '') or a client's share of it.

    Integers only (see governance.gateway.budget): micro-epsilon sums, the sum of squared micro-epsilons of pure
    spends (for zCDP), delta in 1e-15 units. Reservations count until refunded. The row is locked
    (SELECT ... FOR UPDATE) for every change, so concurrent requests cannot overspend.
    """

    __tablename__ = "gateway_budget_accounts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    purpose: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(128), default="")
    # first day of the budget window (ISO date) when policy refreshes the budget per window; '' = one window
    window_start: Mapped[str] = mapped_column(String(10), default="", server_default="")
    pure_epsilon_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    pure_epsilon_sq: Mapped[int] = mapped_column(BigInteger, default=0)
    approx_epsilon_micro: Mapped[int] = mapped_column(BigInteger, default=0)
    delta_units: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("purpose", "client_id", "window_start"),)


class BudgetReservation(Base):
    """One reservation against a purpose budget (and the client's share, when it has one)."""

    __tablename__ = "gateway_budget_reservations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    purpose: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(String(128), index=True)
    charges_client_share: Mapped[bool] = mapped_column(default=False)
    window_start: Mapped[str] = mapped_column(String(10), default="", server_default="")  # the window charged
    state: Mapped[str] = mapped_column(String(16), default="reserved")
    epsilon_micro: Mapped[int] = mapped_column(BigInteger)  # reserved; once committed, what was spent
    # what was reserved, kept after the commit (the console's ledger shows both); NULL before revision 0017
    reserved_epsilon_micro: Mapped[int | None] = mapped_column(BigInteger)
    delta_units: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # the console's ledger, newest first
    settled_at: Mapped[datetime | None] = mapped_column(index=True)

    __table_args__ = (
        sa.CheckConstraint("state IN ('reserved', 'committed', 'refunded')", name="state"),
        sa.CheckConstraint("epsilon_micro >= 0 AND delta_units >= 0", name="amounts"),
    )


class DPQueryRecord(Base):
    """A DP statistics query and its (noisy) result, with its privacy cost."""

    __tablename__ = "gateway_dp_queries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    client_id: Mapped[str] = mapped_column(String(128), index=True)
    purpose: Mapped[str] = mapped_column(String(64), index=True)
    statistic: Mapped[str] = mapped_column(String(16))
    parameters: Mapped[dict[str, Any]] = mapped_column()
    result: Mapped[dict[str, Any]] = mapped_column()
    epsilon_micro: Mapped[int] = mapped_column(BigInteger)
    delta_units: Mapped[int] = mapped_column(BigInteger)
    mechanism: Mapped[str] = mapped_column(Text)
    reservation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gateway_budget_reservations.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
