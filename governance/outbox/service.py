"""The outbox service: what the writing domains call (docs/contracts.md, "outbox"), and the relay's reads.

`write` is the one call a domain makes per transaction: ONE multi-row INSERT, no read, no flush of anything
else, so it costs a single statement inside the consent write path. Messages carry what the signed webhooks
carry (`governance.consent.processors.deliver`): ids, event names and enumerated values, never personal data.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance import write_batch
from governance.db import rowcount, utcnow
from governance.outbox.models import OutboxMessage

__all__ = ["OutboxEvent", "PendingMessage", "backlog", "batch_part", "mark_sent", "pending", "purge_sent", "write"]

_EVENT_NAME = re.compile(r"^[a-z][a-z_]*(\.[a-z_]+)+$")
_table = OutboxMessage.__table__


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One message to announce: the webhook event name, the subject's id, and the webhook's `data`."""

    event: str
    subject_id: uuid.UUID
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PendingMessage:
    seq: int
    id: uuid.UUID
    event: str
    subject_id: uuid.UUID
    data: dict[str, Any]
    created_at: dt.datetime

    def body(self) -> bytes:
        """The message body: the same JSON document a webhook delivery posts (minus the signature header)."""
        return json.dumps(
            {
                "id": str(self.id),
                "event": self.event,
                "subject_id": str(self.subject_id),
                "created_at": self.created_at.isoformat(),
                "data": self.data,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()


def write(session: Session, events: Sequence[OutboxEvent], *, now: dt.datetime | None = None) -> list[uuid.UUID]:
    """Add `events` to the outbox in the caller's transaction (one INSERT of all rows); returns the message ids.

    Nothing is written for an empty list. Raises ValueError for an event name that is not `domain.thing`.
    """
    if not events:
        return []
    rows = _rows(events, now or utcnow())
    # One cached statement sent as one executemany (SQLAlchemy's insertmanyvalues / psycopg's pipelined
    # executemany: one round trip; SQLite steps one prepared statement). `.values(rows)` rendered the same single
    # INSERT but built and compiled a new statement on every call: ~40 % of a consent write's CPU (profile in
    # docs/performance.md). Rows keep their order, so `seq` follows the list.
    session.execute(_INSERT, rows)
    return [row["id"] for row in rows]


_INSERT = sa.insert(_table)
_BATCH_TARGET = write_batch.target("outbox_messages", _table, ("id", "event", "subject_id", "data", "created_at"))


def batch_part(events: Sequence[OutboxEvent], *, now: dt.datetime | None = None) -> write_batch.Part:
    """`write`'s rows as a part of a caller's combined statement (`governance.write_batch`): the same rows, in
    the same order, in the caller's transaction (an empty part writes nothing)."""
    return write_batch.Part(_BATCH_TARGET, _rows(events, now or utcnow()) if events else [])


def _rows(events: Sequence[OutboxEvent], moment: dt.datetime) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for item in events:
        if not _EVENT_NAME.match(item.event):
            raise ValueError("event names look like consent.withdrawn")
        rows.append(
            {"id": uuid.uuid4(), "event": item.event, "subject_id": item.subject_id, "data": item.data,
             "created_at": moment}
        )  # fmt: skip
    return rows


def pending(session: Session, *, limit: int) -> list[PendingMessage]:
    """The oldest unsent messages, in write order (a plain read: never blocks a writer)."""
    t = _table.c
    result = session.execute(
        sa.select(t.seq, t.id, t.event, t.subject_id, t.data, t.created_at)
        .where(t.sent_at.is_(None))
        .order_by(t.seq)
        .limit(limit)
    )
    return [PendingMessage(*row) for row in result]


def mark_sent(session: Session, seqs: Sequence[int], *, now: dt.datetime | None = None) -> int:
    """Record that the broker confirmed these messages. Returns how many rows changed."""
    if not seqs:
        return 0
    t = _table.c
    result = session.execute(
        sa.update(_table).where(t.seq.in_(list(seqs)), t.sent_at.is_(None)).values(sent_at=now or utcnow())
    )
    return rowcount(result)


def purge_sent(session: Session, *, older_than: dt.datetime, limit: int = 10_000) -> int:
    """Delete messages confirmed before `older_than` (at most `limit`); unsent rows are never deleted."""
    t = _table.c
    doomed = sa.select(t.seq).where(t.sent_at.is_not(None), t.sent_at < older_than).order_by(t.seq).limit(limit)
    result = session.execute(sa.delete(_table).where(t.seq.in_(doomed.scalar_subquery())))
    return rowcount(result)


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    oldest_created_at: dt.datetime | None

    def oldest_age_seconds(self, now: dt.datetime | None = None) -> float:
        if self.oldest_created_at is None:
            return 0.0
        return max(0.0, ((now or utcnow()) - self.oldest_created_at).total_seconds())


def backlog(session: Session) -> Backlog:
    """How many messages wait for the broker, and since when (for metrics and alerts)."""
    t = _table.c
    count, oldest = session.execute(
        sa.select(sa.func.count(), sa.func.min(t.created_at)).where(t.sent_at.is_(None))
    ).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    return Backlog(int(count or 0), oldest)
