"""The transactional outbox: one row per message for the broker, written in the transaction of the change it
announces (a consent change, an erasure, an objection, a model flag) and relayed by `governance outbox-relay`.

`seq` orders the relay's reads; `id` is the message id consumers deduplicate by (delivery is at least once).
`sent_at` is set only after the broker confirmed the message (publisher confirms).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from governance.db import Base, UTCDateTime

# SQLite numbers rows only for an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
SeqType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        sa.UniqueConstraint("id"),
        # the relay's scan: unsent rows in order (partial, so it stays as small as the backlog)
        sa.Index(
            "ix_outbox_messages_unsent",
            "seq",
            sqlite_where=sa.text("sent_at IS NULL"),
            postgresql_where=sa.text("sent_at IS NULL"),
        ),
        sa.Index("ix_outbox_messages_sent_at", "sent_at"),
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False)
    event: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    subject_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
