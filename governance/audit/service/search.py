"""Searching sealed entries by actor, action prefix, target, request and time, with keyset pagination."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.audit.errors import AuditFilterError
from governance.audit.models import AuditEntry
from governance.audit.service.sealing import typed_entry


@dataclass(frozen=True, slots=True)
class SearchFilters:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor_kind: str | None = None
    actor_id: str | None = None
    action_prefix: str | None = None
    target_kind: str | None = None
    target_id: str | None = None
    request_id: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if value is not None:
                out[name] = value.isoformat() if isinstance(value, dt.datetime) else str(value)
        return out


def _filtered(query: sa.Select[Any], filters: SearchFilters) -> sa.Select[Any]:
    c = AuditEntry.__table__.c
    if filters.since:
        query = query.where(c.occurred_at >= filters.since)
    if filters.until:
        query = query.where(c.occurred_at < filters.until)
    if filters.actor_kind:
        query = query.where(c.actor_kind == filters.actor_kind)
    if filters.actor_id:
        query = query.where(c.actor_id == filters.actor_id)
    if filters.action_prefix:
        if not re.fullmatch(r"[a-z0-9_.]+", filters.action_prefix):
            raise AuditFilterError("action prefixes use lowercase letters, digits, '_' and '.'")
        query = query.where(c.action.startswith(filters.action_prefix, autoescape=True))
    if filters.target_kind:
        query = query.where(c.target_kind == filters.target_kind)
    if filters.target_id:
        query = query.where(c.target_id == filters.target_id)
    if filters.request_id:
        query = query.where(c.request_id == filters.request_id)
    return query


def search(
    session: Session,
    filters: SearchFilters,
    after: int | None = None,
    limit: int = 100,
    *,
    before: int | None = None,
    newest_first: bool = False,
) -> tuple[list[dict[str, Any]], int | None]:
    """Sealed entries matching `filters` in seq order after `after` and before `before` (keyset pagination).

    `newest_first` walks the log backwards: the returned cursor is then the `before` of the next (older) page.
    Returns (entries in typed form with their leaf hash, the cursor for the next page or None)."""
    if not 1 <= limit <= 1000:
        raise AuditFilterError("limit is between 1 and 1000")
    table = AuditEntry.__table__
    query = _filtered(sa.select(table).where(table.c.seq.is_not(None)), filters)
    if after is not None:
        query = query.where(table.c.seq > after)
    if before is not None:
        query = query.where(table.c.seq < before)
    order = table.c.seq.desc() if newest_first else table.c.seq
    rows = session.execute(query.order_by(order).limit(limit + 1)).all()
    page = [{"entry": typed_entry(r), "leaf_hash": r.leaf_hash.hex()} for r in rows[:limit]]
    return page, (rows[limit - 1].seq if len(rows) > limit else None)
