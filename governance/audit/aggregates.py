"""Small reads of the audit log for pages: each one indexed statement with a LIMIT, never the entries' details,
so what a page costs does not grow with the log (docs/web.md, "Pages read aggregates")."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.audit.checkpoint import Checkpoint, parse_checkpoint
from governance.audit.models import AuditCheckpoint, AuditEntry

__all__ = ["ActionOn", "actions_on", "latest_checkpoint"]


@dataclass(frozen=True, slots=True)
class ActionOn:
    """A sealed entry about one target: its position, action and time (no details)."""

    seq: int
    action: str
    at: dt.datetime


def actions_on(
    session: Session,
    target_kind: str,
    target_id: str | uuid.UUID,
    *,
    actions: Collection[str] | None = None,
    limit: int = 200,
) -> list[ActionOn]:
    """The first `limit` sealed entries about (`target_kind`, `target_id`), oldest first, optionally only those
    with one of `actions`: one query on the target index."""
    c = AuditEntry.__table__.c
    query = sa.select(c.seq, c.action, c.occurred_at).where(
        c.seq.is_not(None), c.target_kind == target_kind, c.target_id == str(target_id)
    )
    if actions is not None:
        query = query.where(c.action.in_(sorted(actions)))
    rows = session.execute(query.order_by(c.seq).limit(limit))
    return [ActionOn(seq=row.seq, action=row.action, at=row.occurred_at) for row in rows]


def latest_checkpoint(session: Session) -> Checkpoint | None:
    """The newest signed checkpoint (the largest), or None before the first: one row."""
    note = session.scalars(sa.select(AuditCheckpoint.note).order_by(AuditCheckpoint.size.desc()).limit(1)).first()
    return parse_checkpoint(note) if note is not None else None
