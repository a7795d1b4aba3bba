"""Stored verification reports: the periodic `audit.verify` job verifies the log and keeps the report, and pages
show the newest one (with its time) instead of verifying the whole log on each page view (docs/audit.md,
"Verification reports").

Each run is either **full** (the whole log against every signed checkpoint, the published ones outside the
database first: `service.verify`, trusting nothing in the database) or **incremental** (only the entries after
the last checkpoint the previous report verified, continuing from that report's tree edge: cheap, but it trusts
that stored edge). A full run happens at least every `GOVERNANCE_AUDIT_VERIFY_FULL_SECONDS`, when there is no
usable earlier report, and when staff ask for it ("Verify now", audited).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.audit import service
from governance.audit.canonical import CanonicalizationError, details_json, entry_bytes, format_time
from governance.audit.checkpoint import parse_checkpoint
from governance.audit.merkle import Frontier
from governance.audit.models import AuditCheckpoint, AuditEntry, AuditVerification
from governance.audit.verifier import VerifyReport, verify_leaves
from governance.core.principals import Principal
from governance.db import utcnow
from governance.jobs import enqueue

__all__ = ["JOB_KIND", "StoredVerification", "latest_verification", "request_verification", "run_verification"]

JOB_KIND = "audit.verify"
KEEP_REPORTS = 500  # older reports are deleted (the newest full one is always kept)


@dataclass(frozen=True, slots=True)
class StoredVerification:
    """A stored report: when it was made, how (`full` or `incremental`), and `VerifyReport.to_dict()`."""

    checked_at: dt.datetime
    kind: str
    ok: bool
    entries: int
    report: dict[str, Any]
    seconds: float


def _view(row: AuditVerification) -> StoredVerification:
    return StoredVerification(row.checked_at, row.kind, row.ok, row.entries, dict(row.report), row.seconds)


def latest_verification(session: Session) -> StoredVerification | None:
    """The newest stored report (one row), or None before the first verification."""
    row = session.scalars(sa.select(AuditVerification).order_by(AuditVerification.id.desc()).limit(1)).first()
    return _view(row) if row is not None else None


def request_verification(session: Session, *, actor: Principal) -> uuid.UUID:
    """Enqueue a full verification now (staff's "Verify now"), audited, in the caller's transaction. Requests
    within the same ten seconds share one job."""
    slot = int(utcnow().timestamp()) // 10
    job_id = enqueue(
        session,
        JOB_KIND,
        {"full": True},
        dedupe_key=f"{JOB_KIND}:requested:{slot}",
        created_by=f"{actor.kind}:{actor.id}",
    )
    service.record(session, actor=actor, action="audit.verification.requested", target=("job", job_id))
    return job_id


def _newest(session: Session, kind: str | None = None) -> AuditVerification | None:
    query = sa.select(AuditVerification).order_by(AuditVerification.id.desc()).limit(1)
    if kind is not None:
        query = query.where(AuditVerification.kind == kind)
    return session.scalars(query).first()


def _mode(session: Session, *, full: bool, now: dt.datetime, full_every: float) -> tuple[str | None, Any]:
    """Which run is due: "full", "incremental" (with the report to continue from) or None (a failure stands and
    the next full run is not due yet: a failed log is not re-read every minute)."""
    latest = _newest(session)
    if full or latest is None:
        return "full", None

    def stale(row: AuditVerification) -> bool:
        return (now - row.checked_at).total_seconds() >= full_every

    if not latest.ok:
        return ("full", None) if stale(latest) else (None, None)
    last_full = latest if latest.kind == "full" else _newest(session, "full")
    if last_full is None or stale(last_full) or latest.anchor_size is None:
        return "full", None
    return "incremental", latest


Leaf = tuple[int | None, bytes | None, bytes]


def _leaves_from(session: Session, first: int, batch: int = 5000) -> Generator[Leaf, None, None]:
    """(seq, canonical bytes or None, stored leaf hash) of the sealed entries from position `first` on."""
    c = AuditEntry.__table__.c
    query = (
        sa.select(c.seq, c.leaf_hash, c.occurred_at, c.actor_kind, c.actor_id, c.action, c.target_kind, c.target_id,
                  c.request_id, c.policy_version, c.details)
        .where(c.seq.is_not(None), c.seq >= first)
        .order_by(c.seq)
    )  # fmt: skip
    result = session.execute(query.execution_options(yield_per=batch))  # a server-side cursor on PostgreSQL
    try:
        yield from _leaf_rows(result)
    finally:  # the verifier stops at the first failure: close the cursor then, not when collected
        result.close()


def _leaf_rows(result: Any) -> Iterator[Leaf]:
    for row in result:
        try:
            data: bytes | None = entry_bytes(
                row.seq, format_time(row.occurred_at), row.actor_kind, row.actor_id, row.action, row.target_kind,
                row.target_id, row.request_id, row.policy_version, details_json(row.details),
            )  # fmt: skip
        except CanonicalizationError:
            data = None
        yield row.seq, data, row.leaf_hash


def _incremental(session: Session, config: service.AuditConfig, previous: AuditVerification) -> VerifyReport:
    """Verify the entries after the previous report's anchor against the database's checkpoints of that size
    and larger (their signatures and roots), continuing the tree from the stored edge."""
    size = int(previous.anchor_size or 0)
    start = Frontier(size, [bytes.fromhex(node) for node in previous.anchor_frontier or []])
    notes = session.scalars(
        sa.select(AuditCheckpoint.note).where(AuditCheckpoint.size >= size).order_by(AuditCheckpoint.size)
    ).all()
    first_index = session.scalar(sa.select(sa.func.count()).where(AuditCheckpoint.size < size)) or 0
    leaves = _leaves_from(session, size)
    try:
        return verify_leaves(
            leaves,
            [parse_checkpoint(note) for note in notes],
            config.public_keys,
            origin=config.origin,
            start=start,
            first_index=first_index,
        )
    finally:
        leaves.close()


def _store(session: Session, kind: str, report: VerifyReport, seconds: float, now: dt.datetime) -> AuditVerification:
    row = AuditVerification(
        checked_at=now,
        kind=kind,
        ok=bool(report.ok),
        entries=report.entries,
        anchor_size=report.anchor.size if report.anchor is not None else None,
        anchor_frontier=[node.hex() for node in report.anchor.nodes] if report.anchor is not None else None,
        report=report.to_dict(),
        seconds=round(seconds, 3),
    )
    session.add(row)
    session.flush()
    last_full = _newest(session, "full")
    keep_full = last_full.id if last_full is not None else -1
    session.execute(
        sa.delete(AuditVerification).where(
            AuditVerification.id <= row.id - KEEP_REPORTS, AuditVerification.id != keep_full
        )
    )
    return row


def run_verification(
    session_factory: Callable[[], Session],
    config: service.AuditConfig,
    *,
    full: bool = False,
    full_every: float = 3600.0,
    now: dt.datetime | None = None,
) -> StoredVerification | None:
    """Run the verification that is due (see the module's docstring) and store its report (commits). Returns
    the stored report, or None when none was due."""
    now = now or utcnow()
    with session_factory() as session:
        kind, previous = _mode(session, full=full, now=now, full_every=full_every)
        if kind is None:
            return None
        started = time.perf_counter()
        report = service.verify(session, config) if kind == "full" else _incremental(session, config, previous)
        if kind == "incremental":
            unsealed = session.scalar(sa.select(sa.func.count()).where(AuditEntry.seq.is_(None))) or 0
            report.extra.update({"unsealed_entries": unsealed, "incremental_from": int(previous.anchor_size or 0)})
        row = _store(session, kind, report, time.perf_counter() - started, now)
        session.commit()
        return _view(row)
