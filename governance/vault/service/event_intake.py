"""Event intake: validate, encrypt and store a batch of one subject's events, idempotent by event id (a
keyed hash of the client's id), with the backend's fastest insert (COPY on PostgreSQL, one executemany on
SQLite) and ON CONFLICT DO NOTHING for retried batches."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.audit import record
from governance.db import utcnow
from governance.vault.errors import IntakeTooLargeError
from governance.vault.models import Event
from governance.vault.runtime import get_runtime
from governance.vault.service.datakeys import _cipher_for
from governance.vault.service.event_validation import _EVENT_ID, _Invalid, _rules, _validate_event
from governance.vault.service.results import Actor, EventRejection, IntakeReport
from governance.vault.service.statements import _CHUNK, rowcount
from governance.vault.service.subjects import _load_subject

MAX_EVENTS_PER_REQUEST = 10_000
MAX_FUTURE_SKEW = dt.timedelta(minutes=10)


STORED_EVENT_ID_PREFIX = "h:"


def stored_event_ids(blind_index: Any, subject_id: uuid.UUID) -> Callable[[str], str]:
    """The form a subject's event ids are stored in: a keyed hash (the blind-index key, per subject), so that
    nothing a client chose survives an erasure in clear, while a retried batch still finds its events."""
    compute = blind_index.hasher("event_id", f"{subject_id}:")

    def stored(event_id: str) -> str:
        return STORED_EVENT_ID_PREFIX + compute(event_id).hex()

    return stored


_INTAKE_COLUMNS = ("subject_id", "event_id", "category", "occurred_at", "received_at", "key_version", "ciphertext")


def _insert_ignoring_duplicates(session: Session, rows: list[tuple[Any, ...]]) -> int:
    """Insert event rows (tuples in `_INTAKE_COLUMNS` order); rows whose (subject, event id) is already stored
    are skipped by ON CONFLICT DO NOTHING. Returns how many were inserted."""
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        return _copy_insert(session, rows)
    return _sqlite_insert(session, rows)


def _sqlite_insert(session: Session, rows: list[tuple[Any, ...]]) -> int:
    """SQLite: one executemany of a plain INSERT ... ON CONFLICT DO NOTHING. Values go through the columns'
    own bind processors (so they are stored exactly as the ORM stores them), once per distinct value where
    the batch shares it (subject, receive time)."""
    dialect = session.get_bind().dialect
    columns = Event.__table__.c
    to_uuid = columns.subject_id.type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
    to_time = columns.occurred_at.type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
    subject, received = to_uuid(rows[0][0]), to_time(rows[0][4])
    params = [
        (subject, event_id, category, to_time(occurred_at), received, version, blob)
        for _, event_id, category, occurred_at, _, version, blob in rows
    ]
    names = ", ".join(_INTAKE_COLUMNS)
    result = session.connection().exec_driver_sql(
        f"INSERT INTO vault_events ({names}) VALUES (?, ?, ?, ?, ?, ?, ?) "  # noqa: S608 - fixed names  # nosec B608
        "ON CONFLICT (subject_id, event_id) DO NOTHING",
        params,
    )
    return rowcount(result)


def _copy_insert(session: Session, rows: list[tuple[Any, ...]]) -> int:
    """PostgreSQL: COPY into a per-connection temporary table, then one INSERT ... SELECT ... ON CONFLICT DO
    NOTHING (several times faster than row-wise INSERTs), in the caller's transaction."""
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS vault_events_intake ("
            "subject_id uuid, event_id varchar(128), category varchar(64), occurred_at timestamptz, "
            "received_at timestamptz, key_version integer, ciphertext bytea) ON COMMIT DELETE ROWS"
        )
        columns = ", ".join(_INTAKE_COLUMNS)
        with cursor.copy(f"COPY vault_events_intake ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO vault_events ({columns}) SELECT {columns} FROM vault_events_intake "  # noqa: S608 - fixed  # nosec B608
            "ON CONFLICT (subject_id, event_id) DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute("TRUNCATE vault_events_intake")
    finally:
        cursor.close()
    return inserted


def ingest_events(
    session: Session,
    subject_id: uuid.UUID,
    events: Sequence[Any],
    *,
    actor: Actor,
    lawful_categories: set[str] | frozenset[str],
) -> IntakeReport:
    """Validate, encrypt and store a batch of events for one subject; idempotent by event id.

    Each event is judged alone: invalid ones (`invalid_event`, `unknown_category`) and those no permitted
    purpose covers (`no_lawful_basis`) are reported by index and not stored; the others are stored. Events
    already stored (same event id) count as duplicates and are not stored again.
    """
    if len(events) > MAX_EVENTS_PER_REQUEST:
        raise IntakeTooLargeError()
    runtime = get_runtime()
    rules = _rules(runtime.catalog)
    subject = _load_subject(session, subject_id, lock="share")
    cipher = _cipher_for(session, subject)
    report = IntakeReport()
    now = utcnow()
    latest = now + MAX_FUTURE_SKEW
    rows: list[tuple[Any, ...]] = []
    seen: set[str] = set()
    by_category: Counter[str] = Counter()
    encrypt, version, sid = cipher.encrypt, cipher.version, subject.id
    stored_id = stored_event_ids(runtime.blind_index, sid)
    for index, raw in enumerate(events):
        try:
            event_id, category, occurred_at, payload = _validate_event(rules, raw, lawful_categories, latest)
        except _Invalid as problem:
            raw_id = raw.get("event_id") if isinstance(raw, Mapping) else None
            safe_id = raw_id if isinstance(raw_id, str) and _EVENT_ID.match(raw_id) else None
            report.rejected.append(EventRejection(index, safe_id, problem.code, problem.message))
            continue
        if event_id in seen:
            report.duplicates += 1
            continue
        seen.add(event_id)
        stored = stored_id(event_id)
        rows.append((sid, stored, category, occurred_at, now, version, encrypt("event:" + stored, payload)))
        by_category[category] += 1
    legacy = _stored_in_clear(session, sid, seen) if seen else set()
    if legacy:  # events stored before ids were hashed count as duplicates too
        clear = {row[1]: row for row in rows}
        rows = [row for key, row in clear.items() if key not in legacy]
        report.duplicates += len(clear) - len(rows)
        by_category = Counter(row[2] for row in rows)
    inserted = _insert_ignoring_duplicates(session, rows)
    if inserted < len(rows):  # some were stored before: count per category from what is now new
        by_category = _new_categories(session, sid, rows, now)
    report.duplicates += len(rows) - inserted
    report.accepted = inserted
    report.by_category = dict(by_category)
    rejected_codes = Counter(r.error for r in report.rejected)
    if report.accepted or report.rejected or report.duplicates:
        record(
            session,
            actor=actor,
            action="vault.events.ingest",
            target=("subject", subject.id),
            details={
                "accepted": report.accepted,
                "duplicates": report.duplicates,
                "rejected": dict(rejected_codes),
                "categories": report.by_category,
            },
        )
    return report


# Per database: whether rows with client ids in clear (written before ids were hashed) may exist. New rows are
# always hashed, so once a database has none it never has any again; the scan runs once per process.
_CLEAR_IDS_MAY_EXIST: dict[str, bool] = {}


def forget_clear_id_check() -> None:
    """Run the one-time scan for ids stored in clear again (tests that write such rows by hand)."""
    _CLEAR_IDS_MAY_EXIST.clear()


def _clear_ids_may_exist(session: Session) -> bool:
    url = str(session.get_bind().engine.url)  # the bind is an Engine or a Connection: both have .engine
    known = _CLEAR_IDS_MAY_EXIST.get(url)
    if known is None:
        prefix = STORED_EVENT_ID_PREFIX + "%"
        known = session.scalar(select(Event.id).where(Event.event_id.not_like(prefix)).limit(1)) is not None
        _CLEAR_IDS_MAY_EXIST[url] = known
    return known


def _stored_in_clear(session: Session, subject_id: uuid.UUID, client_ids: set[str]) -> set[str]:
    """Stored ids (hashed) of this batch's events that an older version stored with the client's id in clear.
    Returns the hashed forms, so the caller can drop those rows as duplicates."""
    if not _clear_ids_may_exist(session):
        return set()
    found: set[str] = set()
    ids = sorted(client_ids)
    stored = stored_event_ids(get_runtime().blind_index, subject_id)
    for start in range(0, len(ids), _CHUNK):
        query = select(Event.event_id).where(
            Event.subject_id == subject_id, Event.event_id.in_(ids[start : start + _CHUNK])
        )
        found.update(stored(event_id) for event_id in session.scalars(query))
    return found


def _new_categories(session: Session, subject_id: uuid.UUID, rows: list[tuple[Any, ...]], now: dt.datetime):
    """Per-category counts of the rows this call stored (those with its `received_at`)."""
    ids = [row[1] for row in rows]
    counts: Counter[str] = Counter()
    for start in range(0, len(ids), _CHUNK):
        query = (
            select(Event.category, func.count())
            .where(Event.subject_id == subject_id, Event.event_id.in_(ids[start : start + _CHUNK]))
            .where(Event.received_at == now)
            .group_by(Event.category)
        )
        for category, count in session.execute(query):
            counts[str(category)] += int(count)
    return counts
