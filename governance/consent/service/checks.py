"""The hot path: is a purpose permitted for a subject, for one subject (one primary-key lookup of the derived
state row plus the pure `state.evaluate`), for many at once (the rule as a SQL CASE), and every permitted subject
streamed."""

from __future__ import annotations

import datetime as dt
import json
import operator
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from governance.compiled import CompiledStatement
from governance.consent import state as logic
from governance.consent.errors import UnknownPurposeError
from governance.consent.models import ConsentState
from governance.consent.policy import Purpose
from governance.consent.service.catalog import purposes
from governance.consent.state import Decision, Permission, Reason
from governance.db import utcnow
from governance.vault import service as vault

_BULK_CHUNK = 50_000  # ids per bulk-check query (one bound value, so no variable limit applies)


_state_table = ConsentState.__table__
_STATE_COLUMNS = (
    _state_table.c.decision,
    _state_table.c.decided_at,
    _state_table.c.notice_version,
    _state_table.c.objected,
)
# The check's one read, as driver SQL compiled once per dialect (`governance.compiled`): through
# `session.execute` the statement's execution context and result cost about as much CPU as the driver's round
# trip (docs/performance.md, session 19).
_STATE_BY_KEY = CompiledStatement(
    sa.select(*_STATE_COLUMNS).where(
        _state_table.c.subject_id == sa.bindparam("s", type_=_state_table.c.subject_id.type),
        _state_table.c.purpose == sa.bindparam("p", type_=_state_table.c.purpose.type),
    ),
    [column.type for column in _STATE_COLUMNS],
)


def _state(decision: str | None, decided_at: Any, notice_version: int | None, objected: Any) -> logic.ConsentState:
    return logic.ConsentState(
        decision=Decision(decision) if decision else None,
        decided_at=decided_at,
        notice_version=notice_version,
        objected=bool(objected),
    )


def _row_state(row: Any) -> logic.ConsentState:
    if row is None:
        return logic.EMPTY
    return _state(row.decision, row.decided_at, row.notice_version, row.objected)


def is_permitted(
    session: Session, subject_id: uuid.UUID, purpose: str, *, now: dt.datetime | None = None
) -> Permission:
    """Whether `purpose` may use the subject's data now, with the reason (see `state.Reason`)."""
    found = purposes().get(purpose)
    if found is None:
        return logic.PERMISSIONS[Reason.UNKNOWN_PURPOSE]
    if not found.requires_consent and not found.objectable:
        return logic.PERMISSIONS[Reason.BASIS_NOT_CONSENT]
    rows = _STATE_BY_KEY.rows(session, {"s": subject_id, "p": purpose})
    return logic.evaluate(found, _state(*rows[0]) if rows else logic.EMPTY, now or utcnow())


def _chunks(items: Sequence[uuid.UUID], size: int = _BULK_CHUNK) -> Iterator[Sequence[uuid.UUID]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _reason_sql(found: Purpose, moment: dt.datetime) -> sa.ColumnElement[str]:
    """`state.evaluate` as a SQL CASE over the state row, for bulk reads (tests keep the two in agreement)."""
    t = _state_table.c
    whens: list[tuple[sa.ColumnElement[bool], str]] = []
    if found.objectable:
        whens.append((t.objected.is_(True), Reason.OBJECTED.value))
    if not found.requires_consent:
        return sa.case(*whens, else_=sa.literal(Reason.BASIS_NOT_CONSENT.value))
    whens += [
        (t.decision.is_(None), Reason.NO_CONSENT.value),
        (t.decision == Decision.WITHDRAWN.value, Reason.WITHDRAWN.value),
        (t.decision == Decision.EXPIRED.value, Reason.EXPIRED.value),
        (sa.func.coalesce(t.notice_version, 0) < found.renewal_from_version, Reason.NEEDS_RENEWAL.value),
    ]
    if found.max_consent_age is not None:
        whens.append((t.decided_at <= moment - found.max_consent_age, Reason.EXPIRED.value))
    return sa.case(*whens, else_=sa.literal(Reason.GRANTED.value))


def check_many(
    session: Session, subject_ids: Iterable[uuid.UUID], purpose: str, *, now: dt.datetime | None = None
) -> dict[uuid.UUID, Permission]:
    """`is_permitted` for many subjects at once: the database evaluates the rule in one query per 50,000 ids.

    The ids travel as ONE bound value (a JSON array read with `json_each` on SQLite, a `uuid[]` on PostgreSQL),
    not one placeholder each: no SQL text to render per call, no variable limit, and the statement is cached.
    Each id is one probe of the (purpose, subject_id, …) covering index.
    """
    found = purposes().get(purpose)
    if found is None:
        return dict.fromkeys(subject_ids, logic.PERMISSIONS[Reason.UNKNOWN_PURPOSE])
    if not found.requires_consent and not found.objectable:
        return dict.fromkeys(subject_ids, logic.PERMISSIONS[Reason.BASIS_NOT_CONSENT])
    moment = now or utcnow()
    # Subjects without a state row keep the default; one dict pass also removes duplicates (UUID hashing is slow).
    result = dict.fromkeys(subject_ids, logic.evaluate(found, logic.EMPTY, moment))
    ids = list(result)
    permissions = {r.value: p for r, p in logic.PERMISSIONS.items()}
    stmt = _check_many_statement(session, found, moment)
    if session.get_bind().dialect.name == "postgresql":
        for chunk in _chunks(ids, _BULK_CHUNK):
            for sid, reason in session.execute(stmt, {"ids": list(chunk)}).all():
                result[sid] = permissions[reason]
        return result
    # SQLite: ids go out and come back as the 32 hex digits our Uuid column stores; map them to the caller's objects.
    for chunk in _chunks(ids, _BULK_CHUNK):
        by_hex = {sid.hex: sid for sid in chunk}
        for key, reason in session.execute(stmt, {"ids": json.dumps(list(by_hex))}).all():
            result[by_hex[key]] = permissions[reason]
    return result


def _check_many_statement(session: Session, found: Purpose, moment: dt.datetime) -> sa.Select[Any]:
    t = _state_table.c
    if session.get_bind().dialect.name == "postgresql":
        wanted: sa.ColumnElement[bool] = t.subject_id == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.Uuid())))
        subject: sa.ColumnElement[Any] = t.subject_id
    else:
        ids = sa.func.json_each(sa.bindparam("ids", type_=sa.String())).table_valued("value")
        wanted = sa.type_coerce(t.subject_id, sa.String()).in_(sa.select(ids.c.value))
        subject = sa.type_coerce(t.subject_id, sa.String())
    return sa.select(subject, _reason_sql(found, moment)).where(t.purpose == found.key, wanted)


def permitted_subjects_select(purpose: str, *, now: dt.datetime | None = None) -> sa.Select[Any] | None:
    """The ids `iter_permitted_subjects` gives, as one SELECT of a `subject_id` column that another domain can
    embed in its own statement (e.g. `vault.bounded_event_count`: an aggregate without shipping the ids), for
    consent purposes; None for other bases (their rule needs the vault's subjects: use the iterator)."""
    found = purposes().get(purpose)
    if found is None:
        raise UnknownPurposeError(purpose, purposes().keys)
    if not found.requires_consent:
        return None
    t = _state_table.c
    conditions = [
        t.purpose == purpose,
        t.decision == Decision.GRANTED.value,
        t.notice_version >= found.renewal_from_version,
        t.objected.is_(False),
    ]
    if found.max_consent_age is not None:
        conditions.append(t.decided_at > (now or utcnow()) - found.max_consent_age)
    return sa.select(t.subject_id).where(*conditions)


def iter_permitted_subjects(
    session: Session, purpose: str, *, now: dt.datetime | None = None, batch_size: int = 5000
) -> Iterator[uuid.UUID]:
    """Every subject `purpose` may use now, streamed (the database filters; memory stays bounded).

    For consent purposes: granted, to a notice at or after the last material change, not over age, no
    objection. For other bases: every active subject (from the vault) minus those who objected.
    """
    found = purposes().get(purpose)
    if found is None:
        raise UnknownPurposeError(purpose, purposes().keys)
    moment = now or utcnow()
    t = _state_table.c
    permitted = permitted_subjects_select(purpose, now=moment)
    if permitted is not None:
        yield from _stream_ids(session, permitted, batch_size)
        return
    objected: set[uuid.UUID] = set()
    if found.objectable:
        objected = set(session.scalars(sa.select(t.subject_id).where(t.purpose == purpose, t.objected.is_(True))))
    for subject_id in vault.all_active_subject_ids(session):
        if subject_id not in objected:
            yield subject_id


def subjects_needing_renewal(session: Session, purpose: str, *, batch_size: int = 5000) -> Iterator[uuid.UUID]:
    """Every active subject whose current grant for `purpose` was given to a notice version older than the last
    material change (the grant no longer counts: `Reason.NEEDS_RENEWAL`), streamed in subject-id order.

    Withdrawn, expired, objected and erased subjects are left out: there is nothing for them to renew. A purpose
    with no material change (or not based on consent) has none. Raises UnknownPurposeError."""
    found = purposes().get(purpose)
    if found is None:
        raise UnknownPurposeError(purpose, purposes().keys)
    if not found.requires_consent:
        return
    t = _state_table.c
    stmt = (
        sa.select(t.subject_id)
        .where(
            t.purpose == purpose,
            t.decision == Decision.GRANTED.value,
            sa.func.coalesce(t.notice_version, 0) < found.renewal_from_version,
            t.objected.is_(False),
            sa.exists(vault.active_subject_select(t.subject_id)),
        )
        .order_by(t.subject_id)
    )
    yield from _stream_ids(session, stmt, batch_size)


def _stream_ids(session: Session, stmt: sa.Select[Any], batch_size: int) -> Iterator[uuid.UUID]:
    """Stream one Uuid column, reading the DB-API cursor directly: building a SQLAlchemy Row per id costs more
    than the query. Memory stays bounded and other statements may run on the session between items.

    PostgreSQL: a named (server-side) psycopg cursor, fetched `batch_size` rows at a time; the statement's bound
    values are plain (str, int, aware datetime), so SQLAlchemy's compiled parameters pass through unchanged.
    SQLite: its cursors step the statement lazily already; ids come back as the 32 hex digits the Uuid column
    stores. (SQLAlchemy's `stream_results` strategy pre-fetches a row into its own buffer, so it is not used.)
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        compiled = stmt.compile(dialect=connection.dialect)
        dbapi = connection.connection.dbapi_connection
        with dbapi.cursor(name=f"consent_ids_{uuid.uuid4().hex}") as cursor:  # type: ignore[union-attr]
            cursor.execute(str(compiled), compiled.params)
            while rows := cursor.fetchmany(batch_size):
                yield from map(_first, rows)
        return
    result = connection.execute(stmt)
    try:
        while rows := result.cursor.fetchmany(batch_size):
            yield from map(_uuid_from_hex, map(_first, rows))
    finally:
        result.close()


_first = operator.itemgetter(0)
_new_object = object.__new__
_set_attribute = object.__setattr__


def _uuid_from_hex(value: str) -> uuid.UUID:
    """uuid.UUID(hex=…) without its argument parsing: the value comes from our own Uuid column (32 hex digits)."""
    result = _new_object(uuid.UUID)
    _set_attribute(result, "int", int(value, 16))
    _set_attribute(result, "is_safe", uuid.SafeUUID.unknown)
    return result


def _states_of(session: Session, subject_id: uuid.UUID) -> dict[str, logic.ConsentState]:
    t = _state_table.c
    rows = session.execute(
        sa.select(t.purpose, t.decision, t.decided_at, t.notice_version, t.objected).where(t.subject_id == subject_id)
    )
    return {row.purpose: _row_state(row) for row in rows}
