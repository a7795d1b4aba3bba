"""Verifying the whole sealed log against itself and the signed checkpoints: the published ones (outside the
database) first among them. The rows stream straight from the driver on PostgreSQL."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.audit import anchors
from governance.audit.canonical import CanonicalizationError, details_json, entry_bytes
from governance.audit.checkpoint import Checkpoint, CheckpointError, parse_checkpoint
from governance.audit.models import AuditCheckpoint, AuditEntry
from governance.audit.offline_verify import VerificationFailed, verify_cosignature
from governance.audit.publish import PublishedFileError, leaf_segments
from governance.audit.service.config import AuditConfig, current_config
from governance.audit.service.sealing import _CONTENT_COLUMNS, _row_bytes
from governance.audit.verifier import PUBLISHED_CHECKPOINT_INVALID, Failure, VerifyReport, verify_leaves


def checkpoints(session: Session) -> list[Checkpoint]:
    notes = session.scalars(sa.select(AuditCheckpoint.note).order_by(AuditCheckpoint.size)).all()
    return [parse_checkpoint(note) for note in notes]


_VERIFY_POSTGRES = (
    "SELECT seq, leaf_hash,"
    " pg_catalog.to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    " actor_kind, actor_id, action, target_kind, target_id, request_id, policy_version, details::text"
    " FROM audit_entries WHERE seq IS NOT NULL ORDER BY seq"
)
_JSON_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # the C scanner; untyped in typeshed


def _postgres_rows(session: Session, batch: int) -> Iterator[tuple[Any, ...]]:
    """Rows of `_VERIFY_POSTGRES` from a server-side cursor (binary transfer), fetched one batch ahead by a
    helper thread, so the server produces the next batch while this thread hashes the current one."""
    driver: Any = session.connection().connection.driver_connection  # psycopg's own connection
    batches: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch() -> None:
        try:
            with driver.cursor(name="audit_verify") as cursor:
                cursor.execute(_VERIFY_POSTGRES, binary=True)
                while not stop.is_set():
                    rows = cursor.fetchmany(batch)
                    while not stop.is_set():
                        try:
                            batches.put(rows, timeout=0.5)
                            break
                        except queue.Full:
                            continue
                    if not rows:
                        return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            batches.put(exc)

    fetcher = threading.Thread(target=fetch, name="audit-verify-fetch", daemon=True)
    fetcher.start()
    try:
        while True:
            rows = batches.get()
            if isinstance(rows, BaseException):
                raise rows
            if not rows:
                return
            yield from rows
    finally:
        stop.set()
        fetcher.join()


def _leaf_inputs(session: Session, *, batch: int = 10_000) -> Iterator[tuple[int | None, bytes | None, bytes | None]]:
    """(seq, canonical bytes or None when the row has no canonical form, stored leaf hash) in seq order.

    The database is an untrusted source here: what it returns is hashed and checked against the signed roots,
    so letting PostgreSQL format the time (`to_char`) and the details as text cannot hide a change, it only
    saves client work. On PostgreSQL the rows stream as plain tuples (no ORM rows, no type decorators).
    """
    if session.get_bind().dialect.name == "postgresql":
        scan, encode = _JSON_SCAN, details_json  # the C scanner json.loads wraps, without its per-call overhead
        for seq, leaf, time_text, ak, ai, action, tk, ti, rid, pv, text in _postgres_rows(session, batch):
            try:
                details, end = scan(text, 0)
                data: bytes | None = entry_bytes(seq, time_text, ak, ai, action, tk, ti, rid, pv, encode(details))
                if end != len(text):
                    data = None
            except (CanonicalizationError, StopIteration, ValueError, TypeError):
                data = None
            yield seq, data, leaf
        return
    c = AuditEntry.__table__.c
    query = sa.select(c.seq, c.leaf_hash, *_CONTENT_COLUMNS).where(c.seq.is_not(None)).order_by(c.seq)
    for row in session.execute(query.execution_options(yield_per=batch)):
        try:
            data = _row_bytes(row.seq, row)
        except CanonicalizationError:
            data = None
        yield row.seq, data, row.leaf_hash


def _anchored_checkpoints(session: Session, config: AuditConfig) -> tuple[list[Checkpoint], Any, dict[str, Any]]:
    """The checkpoints verify and export check against: the published ones (outside the database), the
    witness-cosigned ones, and the database's own (a database checkpoint adds nothing an attacker could use:
    it is signed with a key outside the database; deleting it is what the published copies catch).
    Returns (checkpoints, published files, facts for the report). Raises PublishedFileError."""
    published, cosigned = anchors.trusted_checkpoints(config)
    by_text: dict[str, Checkpoint] = {}
    for cp in checkpoints(session):
        by_text[cp.to_text()] = cp
    for item in published:
        by_text[item.checkpoint.to_text()] = item.checkpoint
    witnessed_size = None
    for cp, text in cosigned:
        by_text[cp.to_text()] = cp
        if config.witness is not None and verify_cosignature(text, config.witness) is not None:
            witnessed_size = max(witnessed_size or 0, cp.size)
    db_sizes = {cp.size for cp in checkpoints(session)}
    published_sizes = {item.size for item in published}
    facts = {
        "published_checkpoints": len(published),
        "published_size": max(published_sizes, default=None),
        "witnessed_size": witnessed_size,
        "unpublished_checkpoints": len(db_sizes - published_sizes),
        "trust_anchor": "published" if published else "database",
    }
    return sorted(by_text.values(), key=lambda cp: (cp.size, cp.time)), published, facts


def verify(session: Session, config: AuditConfig | None = None) -> VerifyReport:
    """Check the whole sealed log against itself and the signed checkpoints, the published ones (outside the
    database) first among them (`VerifyReport`, never raises for a bad log)."""
    config = config or current_config()
    try:
        cps, published, facts = _anchored_checkpoints(session, config)
    except (PublishedFileError, OSError, CheckpointError) as exc:
        failure = Failure(PUBLISHED_CHECKPOINT_INVALID, None, f"a published checkpoint does not verify ({exc})")
        return VerifyReport(False, 0, 0, 0, None, None, None, 0, None, failure)
    except VerificationFailed as exc:
        return VerifyReport(False, 0, 0, 0, None, None, None, 0, None, Failure(exc.reason, None, exc.detail))
    segments = list(leaf_segments(published))
    report = verify_leaves(_leaf_inputs(session), cps, config.public_keys, origin=config.origin, published=segments)
    unsealed = session.scalar(sa.select(sa.func.count()).where(AuditEntry.seq.is_(None))) or 0
    report.extra["unsealed_entries"] = unsealed
    report.extra.update(facts)
    return report
