"""RFC 9162 Merkle tree hashing: the right-edge frontier, and inclusion and consistency proof checks."""

from __future__ import annotations

import hashlib

_sha256 = hashlib.sha256


def _node(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


class _Frontier:
    def __init__(self) -> None:
        self.size = 0
        self.nodes: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        carry, digest = self.size, leaf
        while carry & 1:
            digest = _sha256(b"\x01" + self.nodes.pop() + digest).digest()
            carry >>= 1
        self.nodes.append(digest)
        self.size += 1

    def root(self) -> bytes:
        if not self.nodes:
            return _sha256(b"").digest()
        digest = self.nodes[-1]
        for left in reversed(self.nodes[:-1]):
            digest = _node(left, digest)
        return digest


def _verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    if not 0 <= index < size:
        return False
    fn, sn, digest = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            digest = _node(sibling, digest)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            digest = _node(digest, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and digest == root


def _verify_consistency(m: int, n: int, root_m: bytes, root_n: bytes, path: list[bytes]) -> bool:
    if not 0 <= m <= n:
        return False
    if m == n:
        return not path and root_m == root_n
    if m == 0:
        return not path
    path = [root_m, *path] if m & (m - 1) == 0 else list(path)
    if not path:
        return False
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == root_m and sr == root_n


EMPTY_ROOT = _sha256(b"").digest()
verify_consistency = _verify_consistency  # the witness uses the same check


def _fold(nodes: list[bytes]) -> bytes:
    """The root of a tree from its frontier (maximal perfect subtrees, left to right)."""
    if not nodes:
        return EMPTY_ROOT
    digest = nodes[-1]
    for left in reversed(nodes[:-1]):
        digest = _node(left, digest)
    return digest
