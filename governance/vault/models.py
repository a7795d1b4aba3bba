"""The vault's tables. Nothing personal is stored in clear: values are AES-GCM ciphertexts under the subject's
data key, lookups go through HMAC blind indexes, and data keys are stored only wrapped by a master key."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from governance.db import Base, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class Subject(Base):
    """A data subject. `external_ref_index` / `email_index` are HMACs (never the values); both are cleared
    when the subject is erased, leaving only the id and the tombstone."""

    __tablename__ = "vault_subjects"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    external_ref_index: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    email_index: Mapped[bytes | None] = mapped_column(LargeBinary(32), index=True)
    jurisdiction: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | erased
    key_version: Mapped[int] = mapped_column(Integer, default=1)  # the data-key version new writes use
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column()
    # the blind-index key version both indexes of this row are computed with (blind_index_rotation.py)
    index_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # the normalized external reference, encrypted under the data key `key_version` (name "external_ref"):
    # the blind-index re-indexing needs the value, which the index alone cannot give back. NULL for subjects
    # created before it was kept, and after erasure.
    external_ref_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (
        sa.CheckConstraint("status IN ('active', 'erased')", name="status"),
        Index("ix_vault_subjects_index_version", "index_version"),
    )


class DataKey(Base):
    """A subject's data key, wrapped by master-key `master_version` (AES-256-GCM, bound to subject and version)."""

    __tablename__ = "vault_data_keys"

    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vault_subjects.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    master_version: Mapped[int] = mapped_column(Integer, index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProfileFieldValue(Base):
    """One encrypted profile field of a subject (associated data: subject, data-key version, field name)."""

    __tablename__ = "vault_profile_fields"

    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vault_subjects.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_version: Mapped[int] = mapped_column(Integer)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Event(Base):
    """A behaviour event. Category and time stay in clear (consent filtering, retention, counts); item, value
    and context are encrypted (associated data: subject, data-key version, "event:" + event id)."""

    __tablename__ = "vault_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vault_subjects.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    key_version: Mapped[int] = mapped_column(Integer)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        UniqueConstraint("subject_id", "event_id"),
        # (subject, category, time): the release and DP reads ask for chunks of subjects and a few categories;
        # without the category here SQLite (no statistics) planned them on (category, occurred_at) and scanned
        # every event of those categories per chunk. Per-subject reads use its leading column.
        Index("ix_vault_events_subject_id_category_occurred_at", "subject_id", "category", "occurred_at"),
        Index("ix_vault_events_category_occurred_at", "category", "occurred_at"),
    )


class Tombstone(Base):
    """What remains of an erased subject: when, why, by whom, and counts of what was destroyed."""

    __tablename__ = "vault_tombstones"

    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vault_subjects.id"), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(String(200))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(128))
    destroyed: Mapped[dict[str, Any]] = mapped_column(default=dict)
    kept_categories: Mapped[list[Any]] = mapped_column(default=list)


class MasterKeyVersion(Base):
    """A master-key version known to the vault. The key material lives in the key provider, never here.

    state: active (new data keys are wrapped with it; exactly one), retiring (data keys still use it while a
    rotation re-wraps them), retired (no live data key uses it). A retired version's key material is kept until
    `destroy_after` (retirement + backup retention: backups taken while it was in use must stay restorable),
    then destroyed in the provider (`destroyed_at`).
    """

    __tablename__ = "vault_master_keys"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    provider: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column()
    destroy_after: Mapped[datetime | None] = mapped_column()
    destroyed_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (sa.CheckConstraint("state IN ('active', 'retiring', 'retired')", name="state"),)


class KeyRotation(Base):
    """A master-key rotation: re-wrap every data key under `target_version`, in resumable batches."""

    __tablename__ = "vault_key_rotations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    target_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | done | failed
    job_id: Mapped[uuid.UUID | None] = mapped_column()
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    retired_versions: Mapped[list[Any]] = mapped_column(default=list)


class BlindIndexRotation(Base):
    """A blind-index key rotation: re-index every subject from `from_version` to `to_version` in resumable
    batches. While `running`, lookups try both versions and writes use `to_version`; `done` retires the old
    one for lookups. `legacy` counts subjects whose external reference cannot be re-indexed (created before
    it was kept encrypted); they keep the rotation from finishing."""

    __tablename__ = "vault_blind_index_rotations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    from_version: Mapped[int] = mapped_column(Integer)
    to_version: Mapped[int] = mapped_column(Integer, unique=True)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | done
    job_id: Mapped[uuid.UUID | None] = mapped_column()
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    legacy: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (sa.CheckConstraint("status IN ('running', 'done')", name="status"),)
