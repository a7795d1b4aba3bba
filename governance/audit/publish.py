"""Signed checkpoints published outside the database: an append-only directory the operator ships to object
storage with retention lock (WORM), so that what the log signed no longer rests on the database alone.

Each checkpoint the sealer signs is written, after its transaction commits, as one file
``checkpoint-<size, 20 digits>.json``::

    {"format": "governance-audit-published/1", "size": 1234, "from": 1000,
     "note": "<the signed note>", "frontier": ["<hex>", ...], "leaves": "<base64 of the leaf hashes [from, size)>"}

``frontier`` is the right edge of the tree at ``size`` (its root must be the signed root, so it cannot be
forged without a hash collision) and lets the sealer extend the published tree without trusting the database;
``leaves`` are the leaf hashes since the previous published checkpoint: chained from that checkpoint's frontier
they must give this checkpoint's signed root, and then they name the exact position of any later change.
A witness cosignature is written next to it as ``checkpoint-<size>.witness-<key hash hex>.txt`` (the note with
the witness's signature line added). Files are written to a temporary name, fsynced, and linked into place:
an existing name is never replaced (a different body for a size already published is a fork and raises).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from governance.audit import merkle
from governance.audit.checkpoint import Checkpoint, CheckpointError, parse_checkpoint, verify_checkpoint

__all__ = [
    "PUBLISHED_FORMAT",
    "PublishConflictError",
    "PublishedCheckpoint",
    "PublishedTreeNodes",
    "Publisher",
]

PUBLISHED_FORMAT = "governance-audit-published/1"
_CHECKPOINT_FILE = re.compile(r"^checkpoint-(\d{20})\.json$")
_WITNESS_FILE = re.compile(r"^checkpoint-(\d{20})\.witness-([0-9a-f]{8})\.txt$")


class PublishConflictError(RuntimeError):
    """A file for this checkpoint already exists with other content: two different trees were signed."""


class PublishedFileError(ValueError):
    """A published file that does not verify (bad signature, frontier or leaves that do not give the root)."""


@dataclass(frozen=True, slots=True)
class PublishedCheckpoint:
    checkpoint: Checkpoint
    start: int  # the leaves held cover [start, checkpoint.size)
    frontier: merkle.Frontier
    leaves: bytes  # concatenated 32-byte leaf hashes

    @property
    def size(self) -> int:
        return self.checkpoint.size

    def to_json(self) -> str:
        data = {
            "format": PUBLISHED_FORMAT,
            "size": self.size,
            "from": self.start,
            "note": self.checkpoint.to_text(),
            "frontier": [node.hex() for node in self.frontier.nodes],
            "leaves": base64.b64encode(self.leaves).decode(),
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"


def parse_published(text: str) -> PublishedCheckpoint:
    """Parse one published file and check that its frontier folds to the signed root (not the signature)."""
    try:
        data = json.loads(text)
        if data.get("format") != PUBLISHED_FORMAT:
            raise PublishedFileError("not a published checkpoint")
        checkpoint = parse_checkpoint(data["note"])
        size, start = int(data["size"]), int(data["from"])
        leaves = base64.b64decode(data["leaves"], validate=True)
        frontier = merkle.Frontier(size, [bytes.fromhex(node) for node in data["frontier"]])
    except (KeyError, TypeError, ValueError, binascii.Error, CheckpointError) as exc:
        raise PublishedFileError("unreadable published checkpoint") from exc
    if size != checkpoint.size or not 0 <= start <= size or len(leaves) != 32 * (size - start):
        raise PublishedFileError("the sizes of a published checkpoint do not agree")
    if frontier.root() != checkpoint.root:
        raise PublishedFileError("the published frontier does not fold to the signed root")
    return PublishedCheckpoint(checkpoint, start, frontier, leaves)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened for fsync
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_once(path: Path, text: str) -> bool:
    """Write `text` to `path` atomically and never over an existing file. Returns False if the same content
    was already there; raises PublishConflictError if other content was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode()
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)  # fails if the name exists: an atomic "create, never replace"
        except FileExistsError:
            if path.read_bytes() != data:
                raise PublishConflictError(f"{path.name} already holds another checkpoint") from None
            return False
        _fsync_directory(path.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


class Publisher:
    """The append-only checkpoint directory."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def path_for(self, size: int) -> Path:
        return self.directory / f"checkpoint-{size:020d}.json"

    def witness_path_for(self, size: int, witness_key_hash: bytes) -> Path:
        return self.directory / f"checkpoint-{size:020d}.witness-{witness_key_hash.hex()}.txt"

    def sizes(self) -> list[int]:
        """The sizes of the published checkpoints, ascending."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return sorted(int(m.group(1)) for m in map(_CHECKPOINT_FILE.match, names) if m)

    def witnessed(self) -> list[tuple[int, str, Path]]:
        """(size, witness key hash hex, path) of every published witness cosignature, by size."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        matches = [m for m in map(_WITNESS_FILE.match, names) if m]
        return sorted((int(m.group(1)), m.group(2), self.directory / m.group(0)) for m in matches)

    def publish(self, published: PublishedCheckpoint) -> bool:
        return write_once(self.path_for(published.size), published.to_json())

    def publish_cosigned(self, size: int, witness_key_hash: bytes, note: str) -> bool:
        return write_once(self.witness_path_for(size, witness_key_hash), note)

    def read(self, size: int) -> PublishedCheckpoint:
        return parse_published(self.path_for(size).read_text(encoding="utf-8"))

    def latest(
        self,
        public_keys: Mapping[str, Ed25519PublicKey] | Sequence[tuple[str, Ed25519PublicKey]],
        origin: str,
    ) -> PublishedCheckpoint | None:
        """The newest published checkpoint, its signature and frontier checked. Raises PublishedFileError for a
        file that does not verify (the sealer then refuses to sign: something outside the database was
        changed)."""
        sizes = self.sizes()
        if not sizes:
            return None
        published = self.read(sizes[-1])
        try:
            verify_checkpoint(published.checkpoint, public_keys, origin=origin)
        except CheckpointError as exc:
            raise PublishedFileError(f"published checkpoint {sizes[-1]}: {exc.code}") from exc
        return published

    def load_all(
        self,
        public_keys: Mapping[str, Ed25519PublicKey] | Sequence[tuple[str, Ed25519PublicKey]],
        origin: str,
    ) -> list[PublishedCheckpoint]:
        """Every published checkpoint, each verified (signature, frontier); raises PublishedFileError."""
        result = []
        for size in self.sizes():
            published = self.read(size)
            try:
                verify_checkpoint(published.checkpoint, public_keys, origin=origin)
            except CheckpointError as exc:
                raise PublishedFileError(f"published checkpoint {size}: {exc.code}") from exc
            result.append(published)
        return result


def leaf_segments(published: Iterable[PublishedCheckpoint]) -> Iterator[tuple[int, bytes]]:
    """(start, concatenated leaf hashes) of the published intervals whose leaves are authenticated: chained
    from the previous published checkpoint's frontier (the empty tree for start 0) they give the signed root.
    An interval whose predecessor is missing, or whose leaves do not chain, is skipped (it names nothing)."""
    previous: dict[int, merkle.Frontier] = {0: merkle.Frontier()}
    for item in sorted(published, key=lambda p: p.size):
        previous[item.size] = item.frontier
        base = previous.get(item.start)
        if base is None:
            continue
        frontier = base.copy()
        data = item.leaves
        for offset in range(0, len(data), 32):
            frontier.append(data[offset : offset + 32])
        if frontier.root() == item.checkpoint.root:
            yield item.start, data


class PublishedTreeNodes:
    """Perfect subtree hashes of a tree of `size` from a trusted frontier at `base` plus the leaf hashes
    [base, size): enough to build any RFC 9162 consistency proof from `base` (the left subtrees of such a proof
    are the frontier's own nodes) without reading the database's older leaves."""

    def __init__(self, base: merkle.Frontier, leaves: Sequence[bytes]) -> None:
        self.base = base
        self.leaves = leaves
        self.frontier_nodes: dict[tuple[int, int], bytes] = {}
        start = 0
        for node, level in zip(base.nodes, _levels(base.size), strict=True):
            self.frontier_nodes[(level, start >> level)] = node
            start += 1 << level

    def node(self, level: int, index: int) -> bytes:
        start = index << level
        if start >= self.base.size:
            chunk = self.leaves[start - self.base.size : start - self.base.size + (1 << level)]
            if len(chunk) != 1 << level:
                raise ValueError("the proof needs leaves beyond the tree")
            return merkle.root_from_leaf_hashes(chunk)
        node = self.frontier_nodes.get((level, index))
        if node is None:
            raise ValueError("the proof needs a node the frontier does not hold")
        return node


def _levels(size: int) -> list[int]:
    """The levels of the maximal perfect subtrees of a tree of `size`, left to right (its set bits, high first)."""
    return [bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]
