"""Merkle tree hashing as in RFC 9162 (Certificate Transparency v2), section 2.1.

Leaves are hashed as ``SHA-256(0x00 || data)`` and interior nodes as ``SHA-256(0x01 || left || right)``;
the tree over ``n`` leaves splits at the largest power of two smaller than ``n``. Everything here is pure and
depends only on the standard library.

- :func:`root_from_leaf_hashes` streams over leaf hashes in O(n) time and O(log n) memory.
- :class:`Frontier` is the right edge of the tree (one hash per set bit of the size): appending a batch
  needs no older leaf, and it is all the sealer keeps between batches.
- :func:`inclusion_proof` / :func:`consistency_proof` build the RFC 9162 proofs from any :class:`NodeSource`
  (perfect, aligned subtree hashes); :func:`verify_inclusion` / :func:`verify_consistency` check them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

__all__ = [
    "EMPTY_ROOT",
    "Frontier",
    "InMemoryTree",
    "NodeSource",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "range_hash",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

_sha256 = hashlib.sha256
EMPTY_ROOT: bytes = _sha256(b"").digest()
"""The root of the empty tree: SHA-256 of the empty string."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The split point k of RFC 9162: the largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The right edge of a Merkle tree: the hashes of its maximal perfect subtrees, left to right.

    A tree of size n has one such subtree per set bit of n, so the frontier holds at most log2(n)+1 hashes.
    Appending a leaf merges equal-sized subtrees (like a binary counter's carry); the root folds them from the
    right. This is enough to extend the tree and compute its root without re-reading any older leaf.
    """

    __slots__ = ("_nodes", "size")

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(nodes) != size.bit_count():
            raise ValueError("a frontier of size n holds exactly popcount(n) subtree hashes")
        self.size = size
        self._nodes = list(nodes)

    @property
    def nodes(self) -> tuple[bytes, ...]:
        return tuple(self._nodes)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash at position ``self.size``. Amortized one node hash."""
        nodes = self._nodes
        carry = self.size
        digest = leaf
        while carry & 1:
            digest = _sha256(b"\x01" + nodes.pop() + digest).digest()
            carry >>= 1
        nodes.append(digest)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """The RFC 9162 tree head (MTH) of the leaves appended so far."""
        nodes = self._nodes
        if not nodes:
            return EMPTY_ROOT
        digest = nodes[-1]
        for left in reversed(nodes[:-1]):
            digest = _sha256(b"\x01" + left + digest).digest()
        return digest

    def copy(self) -> Frontier:
        return Frontier(self.size, self._nodes)

    def to_dict(self) -> dict[str, object]:
        return {"size": self.size, "nodes": [node.hex() for node in self._nodes]}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Frontier:
        nodes = data.get("nodes") or []
        assert isinstance(nodes, list)
        return cls(int(str(data["size"])), [bytes.fromhex(str(node)) for node in nodes])


def root_from_leaf_hashes(leaves: Iterable[bytes]) -> bytes:
    """MTH over the given leaf hashes, streaming: O(n) time, O(log n) memory."""
    frontier = Frontier()
    frontier.extend(leaves)
    return frontier.root()


class NodeSource(Protocol):
    """Access to perfect, aligned subtree hashes: ``node(level, index)`` covers leaves
    ``[index * 2**level, (index + 1) * 2**level)``; level 0 is the leaf hash itself."""

    def node(self, level: int, index: int) -> bytes: ...


class InMemoryTree:
    """All perfect subtree hashes of a list of leaf hashes (about 2n hashes), for building proofs."""

    def __init__(self, leaves: Iterable[bytes]) -> None:
        level = list(leaves)
        self.size = len(level)
        self._levels: list[list[bytes]] = [level]
        while len(level) > 1:
            level = [_sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
            self._levels.append(level)

    def node(self, level: int, index: int) -> bytes:
        return self._levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return range_hash(self, 0, self.size if size is None else size)


def range_hash(source: NodeSource, start: int, end: int) -> bytes:
    """MTH of leaves [start, end) where ``start`` is aligned to the subtree that RFC 9162 would build there.

    The range is split into maximal perfect aligned subtrees (left to right, decreasing in size), which are
    folded from the right exactly as :meth:`Frontier.root` does.
    """
    if end <= start:
        return EMPTY_ROOT
    parts: list[bytes] = []
    position = start
    while position < end:
        remaining = end - position
        # the largest power of two that fits both the alignment of `position` and the remaining length
        level = remaining.bit_length() - 1
        if position:
            level = min(level, (position & -position).bit_length() - 1)
        parts.append(source.node(level, position >> level))
        position += 1 << level
    digest = parts[-1]
    for left in reversed(parts[:-1]):
        digest = _sha256(b"\x01" + left + digest).digest()
    return digest


def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    """RFC 9162 PATH(index, D[0:size]): the audit path proving leaf ``index`` is in the tree of ``size``."""
    if not 0 <= index < size:
        raise ValueError("leaf index outside the tree")
    path: list[bytes] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if m < k:
            path.append(range_hash(source, start + k, end))
            end = start + k
        else:
            path.append(range_hash(source, start, start + k))
            start += k
            m -= k
    path.reverse()
    return path


def consistency_proof(source: NodeSource, old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 PROOF(old_size, D[0:new_size]): the tree of old_size is a prefix of the tree of new_size."""
    if not 0 <= old_size <= new_size:
        raise ValueError("consistency needs 0 <= old_size <= new_size")
    if old_size in (0, new_size):
        return []
    path: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                path.append(range_hash(source, start, end))
            break
        k = _largest_power_of_two_below(n)
        if m <= k:
            path.append(range_hash(source, start + k, end))
            end = start + k
        else:
            path.append(range_hash(source, start, start + k))
            start += k
            m -= k
            complete = False
    path.reverse()
    return path


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: does ``proof`` put ``leaf`` at ``index`` in the tree (``size``, ``root``)?"""
    if not 0 <= index < size:
        return False
    fn, sn, digest = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            digest = _sha256(b"\x01" + sibling + digest).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            digest = _sha256(b"\x01" + digest + sibling).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and digest == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2: is the tree (old_size, old_root) a prefix of (new_size, new_root)?"""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is itself a node of the new tree
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _sha256(b"\x01" + c + fr).digest()
            sr = _sha256(b"\x01" + c + sr).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
