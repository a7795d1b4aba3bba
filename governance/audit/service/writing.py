"""Writing entries: one INSERT in the caller's transaction (`record`), or one multi-row INSERT (`record_many`, or
the entries recorded inside a `deferred` block).
Nothing here waits on other writers: the entry gets its position later, from the sealer."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy.orm import Session

from governance import write_batch
from governance.audit.canonical import CanonicalizationError, to_typed
from governance.audit.errors import AuditDetailsError
from governance.audit.models import ENTRY_CONTENT_COLUMNS, AuditEntry
from governance.audit.service.screening import _check_details, _check_text, _redact_details, _redact_text
from governance.core.principals import ActorRef, Principal
from governance.db import utcnow

Target = tuple[str, str | uuid.UUID] | None
_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,4}$")


def _policy_version() -> str | None:
    if has_app_context():
        return current_app.extensions.get("governance.policy_version")
    return None


_INSERT_ENTRY = sa.insert(AuditEntry.__table__).inline()


def record(
    session: Session,
    *,
    actor: Principal | ActorRef,
    action: str,
    target: Target,
    details: dict[str, Any] | None = None,
    redact: bool = False,
) -> None:
    """Add one audit entry in `session`'s transaction; it commits (or rolls back) with the change it records.

    `details` must hold no personal data: internal ids, counts and enumerated values only. Raises
    AuditDetailsError (and so refuses the caller's whole transaction) for e-mail- or phone-like text, free text
    over 200 characters, or values without a canonical form.

    `redact=True` is for refusals, whose ids and values come from the client (a URL id, a purpose): a refusal
    must always leave a trail, so each value that looks like personal data is replaced by `redacted(value)`
    (a keyed hash) instead of refusing the entry.
    """
    values = _entry_values(actor=actor, action=action, target=target, details=details, redact=redact)
    pending = session.info.get(_DEFERRED)
    if pending is not None:  # inside `deferred`: checked now, written with the block's other entries
        pending.append(dict(zip(ENTRY_CONTENT_COLUMNS, values, strict=True)))
        return
    # one INSERT in the caller's transaction, with no RETURNING (the provisional id is not needed): on
    # PostgreSQL straight through the driver, elsewhere as a cached Core statement. This is most of what an
    # audited change costs the writer (docs/audit.md, "Throughput").
    connection = session.connection()
    if connection.dialect.driver == "psycopg":
        _insert_psycopg(connection, values)
    else:
        session.execute(_INSERT_ENTRY, dict(zip(ENTRY_CONTENT_COLUMNS, values, strict=True)))


_DEFERRED = "governance.audit.deferred"


@contextmanager
def deferred(session: Session, *, write: bool = True) -> Iterator[list[dict[str, Any]]]:
    """The entries `record` adds in `session` inside the block are checked at once (a refused entry still raises
    at its call) and written at the end of the block in ONE multi-row INSERT, in call order: their provisional
    ids, and so the sealer's positions, follow the calls exactly as without the block. For a service call that
    records several steps of one change (filing a request: received, verified, confirmed, in progress). A nested
    block joins the outer one. If the block raises, nothing is written (the caller's transaction rolls back).

    With `write=False` the block yields the checked rows and the caller writes them with its own rows in one
    statement (`deferred_part`, through `governance.write_batch`), in the same order; such a block cannot join
    an outer one (the outer block would write them too)."""
    if _DEFERRED in session.info:
        if not write:
            raise RuntimeError("an audit.deferred block whose caller writes its entries cannot join an outer one")
        yield session.info[_DEFERRED]
        return
    pending: list[dict[str, Any]] = []
    session.info[_DEFERRED] = pending
    try:
        yield pending
    finally:
        session.info.pop(_DEFERRED, None)
    if pending and write:
        session.execute(_INSERT_ENTRY, pending)


def deferred_part(rows: Sequence[dict[str, Any]]) -> write_batch.Part:
    """The rows a `deferred(write=False)` block yielded, as a part of the caller's combined statement: the
    entries get their provisional ids in call order, exactly as through the block's own INSERT."""
    return write_batch.Part(_BATCH_TARGET, rows)


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit entry for `record_many` (the arguments of `record`)."""

    actor: Principal | ActorRef
    action: str
    target: Target
    details: dict[str, Any] | None = None
    redact: bool = False


def record_many(session: Session, entries: Sequence[Entry]) -> None:
    """Add several audit entries in `session`'s transaction with ONE multi-row INSERT (a change that writes
    several entries, e.g. a consent request with two purposes, pays one statement instead of one each).

    The same checks as `record` apply to every entry, all before anything is written: one refused entry
    refuses them all. The entries get their provisional ids in list order, so the sealer gives them
    consecutive positions in that order (gap-free, as for `record`). Nothing is written for an empty list.
    """
    if not entries:
        return
    rows = entry_rows(entries)
    # executemany of one cached statement: SQLAlchemy sends it as a single INSERT ... VALUES (...), (...)
    # ("insertmanyvalues") on PostgreSQL, and as one prepared statement stepped per row on SQLite; either way
    # the provisional ids follow the list order.
    session.execute(_INSERT_ENTRY, rows)


def entry_rows(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """The checked column values `record_many` inserts, for a caller that writes them together with its own rows
    in one statement (`batch_part`). Raises AuditDetailsError as `record` does, before anything is written."""
    return [
        dict(zip(ENTRY_CONTENT_COLUMNS, _entry_values(actor=e.actor, action=e.action, target=e.target,
                                                      details=e.details, redact=e.redact), strict=True))
        for e in entries
    ]  # fmt: skip


def batch_part(entries: Sequence[Entry]) -> write_batch.Part:
    """`record_many`'s rows as a part of a caller's combined statement (`governance.write_batch`): the entries
    get their provisional ids in list order, exactly as through `record_many`."""
    return write_batch.Part(_BATCH_TARGET, entry_rows(entries))


def _entry_values(
    *, actor: Principal | ActorRef, action: str, target: Target, details: dict[str, Any] | None, redact: bool
) -> tuple[Any, ...]:
    """The checked, canonical column values of one entry (raises AuditDetailsError; see `record`)."""
    ref = actor.ref if isinstance(actor, Principal) else actor
    if not _ACTION.match(action):
        raise AuditDetailsError("audit action names read domain.thing.verb")
    actor_id, target_id = str(ref.id), (str(target[1]) if target else None)
    if redact:
        actor_id = _redact_text(actor_id)
        target_id = _redact_text(target_id) if target_id is not None else None
        details = _redact_details(details or {})
    _check_text(actor_id, "actor id")
    if target_id is not None:
        _check_text(target_id, "target id")
    _check_details(details or {})
    try:
        typed_details = to_typed(dict(details or {}))
    except CanonicalizationError as exc:
        raise AuditDetailsError(str(exc)) from exc
    return (
        utcnow(),
        ref.kind,
        actor_id,
        action,
        target[0] if target else None,
        target_id,
        g.get("request_id") if has_request_context() else None,
        _policy_version(),
        typed_details,
    )


_BATCH_TARGET = write_batch.target("audit_entries", AuditEntry.__table__, ENTRY_CONTENT_COLUMNS)
# built from the model's constant column names only: no input reaches this text
_INSERT_SQL = (
    f"INSERT INTO audit_entries ({', '.join(ENTRY_CONTENT_COLUMNS)})"  # noqa: S608  # nosec B608 - fixed names
    f" VALUES ({', '.join(['%s'] * len(ENTRY_CONTENT_COLUMNS))})"
)


def _insert_psycopg(connection: sa.Connection, values: tuple[Any, ...]) -> None:
    """The audit INSERT on the session's own psycopg connection and transaction, skipping SQLAlchemy's
    per-statement execution machinery (about a tenth of a writer's CPU per audited change). Driver errors are
    wrapped as SQLAlchemy's DBAPIError, as they would be through `session.execute`."""
    # deferred: the PostgreSQL driver, imported only where it is the session's driver
    import psycopg
    from psycopg.types.json import Jsonb

    driver: Any = connection.connection.driver_connection  # psycopg's own connection (PostgreSQL only)
    try:
        driver.execute(_INSERT_SQL, (*values[:-1], Jsonb(values[-1])))
    except psycopg.Error as exc:
        raise sa.exc.DBAPIError.instance(_INSERT_SQL, None, exc, psycopg.Error) from exc
