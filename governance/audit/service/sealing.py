"""Sealing: committed entries get consecutive positions under the chain-head row lock, are hashed into the tree,
and a checkpoint is signed when one is due (docs/audit.md, concurrency design)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from governance.audit import anchors, merkle
from governance.audit.canonical import (
    build_entry,
    details_json,
    entry_bytes,
    format_time,
)
from governance.audit.checkpoint import Checkpoint, sign_checkpoint
from governance.audit.models import ENTRY_CONTENT_COLUMNS, AuditCheckpoint, AuditEntry, AuditHead
from governance.audit.service.config import KEY_NAME, AuditConfig
from governance.db import rowcount, utcnow


@dataclass(frozen=True, slots=True)
class SealResult:
    sealed: int
    size: int
    checkpoint: Checkpoint | None
    publications: list[Any] = field(default_factory=list)  # PublishedCheckpoint files to write after commit
    refused: str | None = None  # why the sealer refused to sign (anchors.Refusal reason)


def typed_entry(row: Any) -> dict[str, Any]:
    """The typed JSON form of a stored entry (its `seq` must be set)."""
    return build_entry(
        seq=row.seq,
        time=row.occurred_at,
        actor_kind=row.actor_kind,
        actor_id=row.actor_id,
        action=row.action,
        target_kind=row.target_kind,
        target_id=row.target_id,
        request_id=row.request_id,
        policy_version=row.policy_version,
        details=row.details,
        details_typed=True,
    )


def _lock_head(session: Session) -> AuditHead:
    head = session.scalars(sa.select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:
        table = AuditHead.__table__
        values = {"id": 1, "size": 0, "frontier": [], "root": merkle.EMPTY_ROOT, "checkpoint_size": 0}
        if session.get_bind().dialect.name == "postgresql":
            session.execute(postgresql.insert(table).values(values).on_conflict_do_nothing())
        else:
            session.execute(sa.insert(table).prefix_with("OR IGNORE").values(values))
        head = session.scalars(sa.select(AuditHead).where(AuditHead.id == 1).with_for_update()).one()
    return head


def seal_pending(
    session: Session,
    config: AuditConfig,
    *,
    limit: int = 20_000,
    force_checkpoint: bool = False,
    now: dt.datetime | None = None,
) -> SealResult:
    """Sequence committed unsealed entries into the tree and sign a checkpoint when one is due. Does not commit.

    Holds the chain-head row lock until the caller commits, so concurrent sealers queue behind each other.
    """
    now = now or utcnow()
    head = _lock_head(session)
    frontier = merkle.Frontier(head.size, [bytes.fromhex(h) for h in head.frontier])
    c = AuditEntry.__table__.c
    rows = session.execute(sa.select(c.id, *_CONTENT_COLUMNS).where(c.seq.is_(None)).order_by(c.id).limit(limit)).all()
    sha256, append = hashlib.sha256, frontier.append
    positions: list[tuple[int, int, bytes]] = []
    for row in rows:
        seq = frontier.size
        digest = sha256(b"\x00" + _row_bytes(seq, row)).digest()
        append(digest)
        positions.append((row.id, seq, digest))
    _store_positions(session, positions)
    head.size = frontier.size
    head.frontier = [node.hex() for node in frontier.nodes]
    head.root = frontier.root()
    checkpoint = None
    pending = head.size - head.checkpoint_size
    elapsed = None if head.checkpoint_at is None else (now - head.checkpoint_at).total_seconds()
    due = pending >= config.checkpoint_every or (
        pending > 0 and (elapsed is None or elapsed >= config.checkpoint_seconds)
    )
    publications: list[Any] = []
    if config.signing_key is not None and (due or (force_checkpoint and pending > 0)):
        session.flush()
        # sign only a tree that extends the newest checkpoint published outside the database
        trusted = anchors.extend_published(session, config, head.size, head.root)
        if isinstance(trusted, anchors.Refusal):
            anchors.record_alarm(
                session,
                "audit.checkpoint.refused",
                {"reason": trusted.reason, "published_size": trusted.published_size},
                dedupe=trusted.published_root or head.root.hex(),
            )
            session.flush()
            return SealResult(len(rows), head.size, None, [], trusted.reason)
        checkpoint = sign_checkpoint(
            config.signing_key, key_name=KEY_NAME, origin=config.origin, size=head.size, root=head.root, time=now
        )
        session.add(
            AuditCheckpoint(
                size=checkpoint.size,
                root=checkpoint.root,
                signed_at=checkpoint.time,
                key_id=checkpoint.key_id,
                note=checkpoint.to_text(),
            )
        )
        head.checkpoint_size, head.checkpoint_at = head.size, now
        publications = anchors.publications(trusted, checkpoint)
    session.flush()
    return SealResult(len(rows), head.size, checkpoint, publications)


_CONTENT_COLUMNS = tuple(AuditEntry.__table__.c[name] for name in ENTRY_CONTENT_COLUMNS)


def _row_bytes(seq: int, row: Any) -> bytes:
    """Canonical bytes of a stored entry at position `seq` (see `canonical.entry_bytes`)."""
    return entry_bytes(
        seq,
        format_time(row.occurred_at),
        row.actor_kind,
        row.actor_id,
        row.action,
        row.target_kind,
        row.target_id,
        row.request_id,
        row.policy_version,
        details_json(row.details),
    )


_SEAL_POSTGRES = sa.text(
    "UPDATE audit_entries AS e SET seq = v.seq, leaf_hash = v.leaf_hash"
    " FROM unnest(:ids, :seqs, :hashes) AS v(id, seq, leaf_hash) WHERE e.id = v.id AND e.seq IS NULL"
).bindparams(
    sa.bindparam("ids", type_=sa.ARRAY(sa.BigInteger())),
    sa.bindparam("seqs", type_=sa.ARRAY(sa.BigInteger())),
    sa.bindparam("hashes", type_=sa.ARRAY(sa.LargeBinary())),
)


def _store_positions(session: Session, positions: list[tuple[int, int, bytes]]) -> None:
    """Write (provisional id, seq, leaf hash) for a batch: one statement on PostgreSQL, executemany elsewhere.
    Refuses (and so rolls back the whole seal) if any entry was not updated exactly once."""
    if not positions:
        return
    if session.get_bind().dialect.name == "postgresql":
        ids, seqs, hashes = (list(column) for column in zip(*positions, strict=True))
        updated = rowcount(session.execute(_SEAL_POSTGRES, {"ids": ids, "seqs": seqs, "hashes": hashes}))
        if updated != len(positions):
            raise RuntimeError(f"sealing updated {updated} of {len(positions)} entries")
        return
    table = AuditEntry.__table__
    statement = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"), table.c.seq.is_(None))
        .values(seq=sa.bindparam("b_seq"), leaf_hash=sa.bindparam("b_hash"))
    )
    session.execute(statement, [{"b_id": i, "b_seq": q, "b_hash": h} for i, q, h in positions])


def seal_all(session_factory: Any, config: AuditConfig, *, force_checkpoint: bool = False) -> SealResult:
    """Seal every pending entry in batches, each in its own transaction (for jobs and the CLI). After each
    commit the new checkpoints are published outside the database and the newest is sent to the witness."""
    total, result, newest = 0, SealResult(0, 0, None), None
    while True:
        with session_factory() as session:
            result = seal_pending(session, config, force_checkpoint=force_checkpoint)
            session.commit()
        anchors.publish(config, result.publications)
        newest = result.checkpoint or newest
        total += result.sealed
        if result.sealed == 0 or result.sealed < 20_000:
            if newest is not None:
                anchors.cosign(session_factory, config, newest)
            return SealResult(total, result.size, newest, refused=result.refused)
