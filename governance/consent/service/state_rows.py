"""The derived `consent_state` rows on the write path, as plain values through cached Core statements: locked
(and created) in one statement per write, written back as a part of the write's combined statement."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from governance import write_batch
from governance.compiled import CompiledStatement
from governance.consent import state as logic
from governance.consent.models import ConsentState
from governance.consent.state import Decision
from governance.db import DIALECT_INSERTS
from governance.vault import service as vault

_state_table = ConsentState.__table__


@dataclass(slots=True)
class _StateRow:
    """A locked `consent_state` row as plain values (the write path uses Core: an ORM object per row cost more
    CPU than the statements)."""

    subject_id: uuid.UUID
    purpose: str
    decision: str | None
    decided_at: dt.datetime | None
    decided_seq: int
    notice_version: int | None
    objected: bool
    objection_at: dt.datetime | None
    objection_seq: int
    last_seq: int
    updated_at: dt.datetime


_STATE_FIELDS = tuple(_StateRow.__dataclass_fields__)


def _lock_states(
    session: Session, subject_id: uuid.UUID, keys: Iterable[str], now: dt.datetime
) -> dict[str, _StateRow]:
    """The state rows of (subject, purposes), created if absent and locked, in ONE statement; empty when the
    subject is unknown or erased (the vault's row is read in the same statement: no separate subject lookup).

    `INSERT … SELECT … ON CONFLICT DO UPDATE … RETURNING` creates missing rows and row-locks existing ones
    (PostgreSQL locks a conflicting row to update it, and holds the lock to the end of the transaction) in the
    order of the SELECT, which is sorted by purpose: concurrent writers lock in the same order, so they cannot
    deadlock. The no-op update touches no indexed column. (SQLite: the transaction already holds the database
    write lock.) The purposes travel as ONE bound value, so the statement is compiled once per process.
    """
    ordered = sorted(set(keys))
    if session.get_bind().dialect.name == "postgresql":
        bound = {"s": subject_id, "purposes": ordered, "now": now}
        stmt = _LOCK_STATES["postgresql"]
    else:
        bound = {"s": subject_id, "purposes": json.dumps(ordered), "now": now}
        stmt = _LOCK_STATES["sqlite"]
    locked = (_StateRow(*row) for row in stmt.rows(session, bound))
    return {row.purpose: row for row in locked}


def _lock_states_statement(dialect: str) -> Any:
    t = _state_table
    if dialect == "postgresql":
        unnest = sa.func.unnest(sa.bindparam("purposes", type_=postgresql.ARRAY(sa.String())))
        wanted = unnest.table_valued("value").render_derived(name="wanted")  # unnest(...) AS wanted(value)
    else:
        wanted = sa.func.json_each(sa.bindparam("purposes", type_=sa.String())).table_valued("value")
    subject = vault.active_subject_select(sa.bindparam("s", type_=sa.Uuid())).subquery("subject")
    rows = (
        sa.select(
            subject.c.id,
            sa.cast(wanted.c.value, sa.String()),
            sa.literal(0),
            sa.false(),
            sa.literal(0),
            sa.literal(0),
            sa.bindparam("now", type_=t.c.updated_at.type),
        )
        .select_from(subject.join(wanted, sa.true()))
        .order_by(wanted.c.value)
    )
    columns = ["subject_id", "purpose", "decided_seq", "objected", "objection_seq", "last_seq", "updated_at"]
    stmt = DIALECT_INSERTS[dialect](t).from_select(columns, rows)
    return stmt.on_conflict_do_update(
        index_elements=[t.c.subject_id, t.c.purpose],
        set_={"last_seq": t.c.last_seq},  # unchanged: the update is only there to lock the row
    ).returning(*(t.c[name] for name in _STATE_FIELDS))


# driver SQL compiled once (governance.compiled): session.execute's per-call overhead was ~17 of its 176 µs
_LOCK_STATES = {
    dialect: CompiledStatement(_lock_states_statement(dialect), [_state_table.c[name].type for name in _STATE_FIELDS])
    for dialect in ("postgresql", "sqlite")
}
_STATE_MAPPER = sa.inspect(ConsentState)


_STATE_TARGET = write_batch.target(
    "consent_state",
    _state_table,
    _STATE_FIELDS,
    conflict=("subject_id", "purpose"),
    update=tuple(name for name in _STATE_FIELDS if name not in ("subject_id", "purpose")),
)


def _state_part(session: Session, rows: Iterable[_StateRow]) -> write_batch.Part:
    """Locked state rows to write back, as an upsert part of the write's one combined statement (the rows exist
    and are locked, so the upsert only ever updates); any ORM copy of them this session holds is expired."""
    values = [{name: getattr(row, name) for name in _STATE_FIELDS} for row in rows]
    for row in values:
        key = _STATE_MAPPER.identity_key_from_primary_key((row["subject_id"], row["purpose"]))
        cached = session.identity_map.get(key)
        if cached is not None:
            session.expire(cached)
    return write_batch.Part(_STATE_TARGET, values)


def _to_logic(row: _StateRow) -> logic.ConsentState:
    return logic.ConsentState(
        decision=Decision(row.decision) if row.decision else None,
        decided_at=row.decided_at,
        decided_seq=row.decided_seq,
        notice_version=row.notice_version,
        objected=row.objected,
        objection_at=row.objection_at,
        objection_seq=row.objection_seq,
    )
