"""The Merkle tree's nodes read from the stored leaf hashes, for proofs (`proofs`) and for the witness's
consistency proof when no published frontier covers its size (`anchors.cosign`). A module of its own, below
both, so that `anchors` need not import the service that imports it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.audit import merkle
from governance.audit.errors import AuditProofError
from governance.audit.models import AuditEntry

__all__ = ["StoredLeafNodes"]


class StoredLeafNodes:
    """Perfect subtree hashes computed on demand from the stored leaf hashes (one streamed range query per
    node, cached). A proof's sibling subtrees are disjoint, so one proof reads each leaf hash at most once and
    holds O(log n) hashes in memory. A stored hash that was changed only makes the proof fail for the auditor.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[tuple[int, int], bytes] = {}

    def node(self, level: int, index: int) -> bytes:
        key = (level, index)
        if key not in self.cache:
            start, end = index << level, (index + 1) << level
            c = AuditEntry.__table__.c
            query = sa.select(c.leaf_hash).where(c.seq >= start, c.seq < end).order_by(c.seq)
            frontier = merkle.Frontier()
            for leaf in self.session.scalars(query.execution_options(yield_per=50_000)):
                frontier.append(leaf)
            if frontier.size != end - start:
                raise AuditProofError("the stored log is shorter than the signed checkpoint")
            self.cache[key] = frontier.root()
        return self.cache[key]
