"""The pieces of an export: header, checkpoints, consistency proofs between them, the entries (with inclusion
proofs when filtered) and the records of what is anchored outside the database or of a break."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.audit import anchors, merkle
from governance.audit.checkpoint import Checkpoint, CheckpointError
from governance.audit.export import ExportEntry, ExportHeader
from governance.audit.models import AuditEntry
from governance.audit.offline_verify import VerificationFailed
from governance.audit.publish import PublishedFileError
from governance.audit.service.config import AuditConfig
from governance.audit.service.sealing import typed_entry
from governance.audit.service.search import SearchFilters, _filtered
from governance.audit.service.verification import _anchored_checkpoints, checkpoints
from governance.audit.verifier import LOG_TRUNCATED, PUBLISHED_CHECKPOINT_INVALID
from governance.db import utcnow


def _sealed_rows(session: Session, *, upto: int | None = None, batch: int = 5000) -> Iterator[Any]:
    """Sealed entries in seq order, streamed in keyset batches."""
    table = AuditEntry.__table__
    last = -1
    while True:
        query = sa.select(table).where(table.c.seq > last).order_by(table.c.seq).limit(batch)
        if upto is not None:
            query = query.where(table.c.seq < upto)
        rows = session.execute(query).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


class _DbNodes:
    """Perfect subtree hashes computed from the sealed leaf hashes (read once, for building many proofs).

    `complete` is False when the stored log has a gap or ends before `size` (`break_at` is the first missing
    position): no proof to a checkpoint of `size` can be built then, and the export says so."""

    def __init__(self, session: Session, size: int) -> None:
        c = AuditEntry.__table__.c
        leaves: list[bytes] = []
        self.break_at, self.break_reason = None, LOG_TRUNCATED
        for seq, leaf in session.execute(sa.select(c.seq, c.leaf_hash).where(c.seq < size).order_by(c.seq)):
            if seq != len(leaves) or leaf is None:
                self.break_at, self.break_reason = len(leaves), "sequence_gap"
                break
            leaves.append(leaf)
        if self.break_at is None and len(leaves) < size:
            self.break_at = len(leaves)
        self.complete = self.break_at is None
        self.tree = merkle.InMemoryTree(leaves)

    def node(self, level: int, index: int) -> bytes:
        return self.tree.node(level, index)


def export_parts(
    session: Session, filters: SearchFilters | None, config: AuditConfig
) -> tuple[ExportHeader, list[Checkpoint], list[tuple[int, int, Sequence[bytes]]], Iterator[ExportEntry], list[dict]]:
    """The pieces of an export up to the newest checkpoint (the database's or a published one): full (filters
    None) or filtered with proofs, plus the records of what is anchored outside the database (published files,
    witness-cosigned notes) and of a break: when the stored log has a gap or ends before the newest
    checkpoint, what is there is exported without the proofs that cannot be built, and a ``break`` record
    names the first missing position (the offline verifier reports it)."""
    records: list[dict] = []
    try:
        cps, published, _facts = _anchored_checkpoints(session, config)
        for item in published:
            records.append({"kind": "published", "file": json.loads(item.to_json())})
        for _cp, text in anchors.trusted_checkpoints(config)[1]:
            records.append({"kind": "cosigned", "text": text})
    except (PublishedFileError, OSError, CheckpointError, VerificationFailed):
        cps = checkpoints(session)
        records.append({"kind": "break", "reason": PUBLISHED_CHECKPOINT_INVALID, "position": None,
                        "detail": "a published checkpoint does not verify"})  # fmt: skip
    size = max((cp.size for cp in cps), default=0)
    nodes = _DbNodes(session, size) if size else None
    consistency: list[tuple[int, int, Sequence[bytes]]] = []
    if nodes is not None and not nodes.complete:
        detail = f"the stored log has no entry at {nodes.break_at}; signed checkpoints cover {size}"
        records.append({"kind": "break", "reason": nodes.break_reason, "position": nodes.break_at, "detail": detail})
    elif nodes is not None:
        sizes = sorted({cp.size for cp in cps})
        for old, new in itertools.pairwise(sizes):
            consistency.append((old, new, merkle.consistency_proof(nodes, old, new)))
    scope: Literal["full", "filtered"] = "full" if filters is None else "filtered"
    header = ExportHeader(config.origin, scope, size, utcnow().isoformat(), filters.as_dict() if filters else {})

    def entries() -> Iterator[ExportEntry]:
        if filters is None:
            for row in _sealed_rows(session, upto=size):
                yield ExportEntry(typed_entry(row), row.leaf_hash)
            return
        table = AuditEntry.__table__
        last = -1
        while nodes is not None:
            query = _filtered(sa.select(table).where(table.c.seq > last, table.c.seq < size), filters)
            rows = session.execute(query.order_by(table.c.seq).limit(2000)).all()
            if not rows:
                return
            for row in rows:
                if nodes.complete:
                    proof = merkle.inclusion_proof(nodes, row.seq, size)
                    yield ExportEntry(typed_entry(row), row.leaf_hash, size, proof)
                else:  # no proof can be built over a broken log: the entry as stored, and the break record
                    yield ExportEntry(typed_entry(row), row.leaf_hash)
            last = rows[-1].seq

    return header, cps, consistency, entries(), records
