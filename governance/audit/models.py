"""Audit tables: entries (append-only, sealed once), the chain head (one row), signed checkpoints.

`AuditEntry.id` is a provisional id from a database sequence (it may have gaps: rolled-back transactions
consume ids). `AuditEntry.seq` is the entry's position in the Merkle tree, assigned once by the sealer in commit
order without gaps; `leaf_hash` is set at the same time. See docs/audit.md for the design.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from governance.db import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


SEALED = sa.text("seq IS NOT NULL")
UNSEALED = sa.text("seq IS NULL")


def _sealed_index(name: str, *columns: str, unique: bool = False) -> Index:
    """An index over sealed entries only: the writer's INSERT (seq still NULL) does not touch it, the sealer's
    UPDATE adds the entry to it. Search and export only ever read sealed entries."""
    return Index(name, *columns, unique=unique, postgresql_where=SEALED, sqlite_where=SEALED)


# The columns an entry's writer sets, in this order; they are what an entry's canonical bytes (its leaf) cover.
# `record` inserts them, the sealer and verify read them back.
ENTRY_CONTENT_COLUMNS: tuple[str, ...] = (
    "occurred_at",
    "actor_kind",
    "actor_id",
    "action",
    "target_kind",
    "target_id",
    "request_id",
    "policy_version",
    "details",
)


class AuditEntry(Base):
    """One audit entry. Written by `record` with only its provisional `id` indexed (plus the small index of
    unsealed entries the sealer reads); sealing sets `seq` and `leaf_hash` once and adds it to the search
    indexes (see docs/audit.md, "Throughput")."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(100))
    target_kind: Mapped[str | None] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(120))
    request_id: Mapped[str | None] = mapped_column(String(64))
    policy_version: Mapped[str | None] = mapped_column(String(40))
    details: Mapped[dict[str, Any]]

    __table_args__ = (
        _sealed_index("uq_audit_entries_seq", "seq", unique=True),
        Index("ix_audit_entries_unsealed", "id", postgresql_where=UNSEALED, sqlite_where=UNSEALED),
        _sealed_index("ix_audit_entries_action", "action"),
        _sealed_index("ix_audit_entries_occurred_at", "occurred_at"),
        _sealed_index("ix_audit_entries_actor", "actor_kind", "actor_id"),
        _sealed_index("ix_audit_entries_target", "target_kind", "target_id"),
        _sealed_index("ix_audit_entries_request_id", "request_id"),
    )


class AuditHead(Base):
    """The single chain-head row: the tree size, its right-edge frontier and root, and checkpoint bookkeeping.

    The sealer holds this row's lock while it sequences a batch, so there is exactly one tree (no forks)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    frontier: Mapped[list[Any]] = mapped_column(default=list)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    checkpoint_size: Mapped[int] = mapped_column(BigInteger, default=0)
    checkpoint_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditCheckpoint(Base):
    """A signed checkpoint, kept where auditors can copy it out (`note` is the signed text)."""

    __tablename__ = "audit_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(80))
    note: Mapped[str] = mapped_column(Text)


class AuditVerification(Base):
    """A stored verification report (the `audit.verify` job's): the console shows the newest instead of
    re-reading the whole log per page view. `anchor_*` is the tree at the last checkpoint that matched, where the
    next incremental check continues; a few hundred rows are kept (docs/audit.md, "Verification reports")."""

    __tablename__ = "audit_verifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))  # full, incremental
    ok: Mapped[bool] = mapped_column()
    entries: Mapped[int] = mapped_column(BigInteger)
    anchor_size: Mapped[int | None] = mapped_column(BigInteger)
    anchor_frontier: Mapped[list[Any] | None] = mapped_column()
    report: Mapped[dict[str, Any]] = mapped_column()  # VerifyReport.to_dict(): ids, counts and hashes only
    seconds: Mapped[float] = mapped_column(sa.Float())

    __table_args__ = (sa.CheckConstraint("kind IN ('full', 'incremental')", name="kind"),)
