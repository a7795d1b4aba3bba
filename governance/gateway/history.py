"""What the gateway spent and released, read from its own tables for the console (never from the audit log, so
a page's cost does not grow with the log): the budget ledger and the newest releases. Nothing here writes."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.gateway.models import BudgetReservation, Release

__all__ = ["LedgerEntry", "budget_ledger", "recent_releases"]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One change of a budget: a reservation made (`reserved`), then committed or refunded."""

    at: dt.datetime
    status: str  # reserved, committed, refunded
    reservation_id: uuid.UUID
    purpose: str
    client_id: str
    reason: str
    epsilon_micro: int  # reserved: what was reserved; committed: what was spent; refunded: 0


def _made(since: dt.datetime, limit: int) -> sa.Select[Any]:
    r = BudgetReservation.__table__.c
    return (
        sa.select(
            r.created_at.label("at"),
            sa.literal("reserved").label("status"),
            r.id,
            r.purpose,
            r.client_id,
            r.reason,
            sa.func.coalesce(r.reserved_epsilon_micro, r.epsilon_micro).label("epsilon_micro"),
        )
        .where(r.created_at >= since)
        .order_by(r.created_at.desc())
        .limit(limit)
    )


def _settled(since: dt.datetime, limit: int) -> sa.Select[Any]:
    r = BudgetReservation.__table__.c
    return (
        sa.select(
            r.settled_at.label("at"),
            r.state.label("status"),
            r.id,
            r.purpose,
            r.client_id,
            r.reason,
            sa.case((r.state == "committed", r.epsilon_micro), else_=0).label("epsilon_micro"),
        )
        .where(r.settled_at >= since)
        .order_by(r.settled_at.desc())
        .limit(limit)
    )


def budget_ledger(session: Session, *, since: dt.datetime, limit: int = 200) -> list[LedgerEntry]:
    """The budget changes since `since`, newest first, at most `limit`: two index range scans (the newest
    reservations made, the newest settled), merged here, whatever the number of reservations."""
    rows = [(row, 0) for row in session.execute(_made(since, limit))]
    rows += [(row, 1) for row in session.execute(_settled(since, limit))]
    # newest first; a reservation settled at the instant it was made is listed after it (above it)
    rows.sort(key=lambda item: (item[0].at, item[1]), reverse=True)
    return [
        LedgerEntry(
            at=row.at,
            status=row.status,
            reservation_id=row.id,
            purpose=row.purpose,
            client_id=row.client_id,
            reason=row.reason,
            epsilon_micro=int(row.epsilon_micro or 0),
        )
        for row, _step in rows[:limit]
    ]


def recent_releases(session: Session, limit: int = 100) -> list[Release]:
    """The `limit` newest releases (one query), newest first."""
    query = sa.select(Release).order_by(Release.created_at.desc(), Release.id).limit(limit)
    return list(session.scalars(query))
