"""Proofs for auditors: RFC 9162 consistency from a saved checkpoint, and inclusion of one entry, built from the
stored leaf hashes."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.audit import merkle
from governance.audit.checkpoint import Checkpoint, parse_checkpoint
from governance.audit.errors import AuditProofError, CheckpointNotFoundError
from governance.audit.models import AuditCheckpoint, AuditEntry
from governance.audit.service.config import AuditConfig
from governance.audit.service.leaves import StoredLeafNodes
from governance.audit.service.sealing import typed_entry

PROOF_FORMAT = "governance-audit-proof/1"


def _checkpoint_of_size(session: Session, size: int | None) -> Checkpoint:
    query = sa.select(AuditCheckpoint.note)
    query = query.order_by(AuditCheckpoint.size.desc()) if size is None else query.where(AuditCheckpoint.size == size)
    note = session.scalars(query.limit(1)).first()
    if note is None:
        raise CheckpointNotFoundError()
    return parse_checkpoint(note)


def consistency_proof(session: Session, config: AuditConfig, old_size: int, new_size: int | None = None) -> dict:
    """RFC 9162 consistency proof that the tree of `old_size` (an auditor's saved checkpoint, any size) is a
    prefix of the signed checkpoint of `new_size` (default: the newest). Returned with that checkpoint's note,
    and the note of `old_size` when the service signed one of that size, so the proof verifies offline."""
    new = _checkpoint_of_size(session, new_size)
    if not 1 <= old_size <= new.size:
        raise AuditProofError(f"old_size must be between 1 and {new.size}")
    path = merkle.consistency_proof(StoredLeafNodes(session), old_size, new.size)
    old_note = session.scalars(sa.select(AuditCheckpoint.note).where(AuditCheckpoint.size == old_size)).first()
    return {
        "format": PROOF_FORMAT,
        "kind": "consistency",
        "origin": config.origin,
        "old_size": old_size,
        "new_size": new.size,
        "path": [node.hex() for node in path],
        "checkpoint": new.to_text(),
        "old_checkpoint": old_note,
    }


def inclusion_proof(session: Session, config: AuditConfig, seq: int, tree_size: int | None = None) -> dict:
    """RFC 9162 inclusion proof of the entry at `seq` in the signed checkpoint of `tree_size` (default: the
    newest), with the entry in typed form, its leaf hash and the checkpoint note."""
    checkpoint = _checkpoint_of_size(session, tree_size)
    if not 0 <= seq < checkpoint.size:
        raise AuditProofError(f"seq must be between 0 and {checkpoint.size - 1}")
    row = session.execute(sa.select(AuditEntry.__table__).where(AuditEntry.seq == seq)).first()
    if row is None:
        raise AuditProofError("the stored log has no entry at this position")
    path = merkle.inclusion_proof(StoredLeafNodes(session), seq, checkpoint.size)
    return {
        "format": PROOF_FORMAT,
        "kind": "inclusion",
        "origin": config.origin,
        "seq": seq,
        "tree_size": checkpoint.size,
        "leaf_hash": row.leaf_hash.hex(),
        "entry": typed_entry(row),
        "path": [node.hex() for node in path],
        "checkpoint": checkpoint.to_text(),
    }
