"""The checks of one export: checkpoints and published files, every entry of a full export (the hot loop), the
inclusion proofs of a filtered one, and the consistency proofs between checkpoints."""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .failures import UnusableInput, VerificationFailed
from .notes import Checkpoint, WitnessKey, parse_and_verify_checkpoint, verify_cosignature
from .records import Record, _as_record, _canonical
from .trees import _fold, _Frontier, _verify_consistency, _verify_inclusion

PUBLISHED_FORMAT = "governance-audit-published/1"
_sha256 = hashlib.sha256


class _Verifier:
    def __init__(self, keys: dict[bytes, tuple[str, Ed25519PublicKey]], origin: str | None) -> None:
        self.keys, self.origin = keys, origin
        self.checkpoints: dict[int, Checkpoint] = {}
        self.entries = 0
        self.verified = 0
        self.segments: list[tuple[int, int, bytes]] = []  # published leaf hashes [start, end), authenticated
        self.published = 0
        self.witnesses: list[WitnessKey] = []
        self.witnessed: dict[str, int] = {}
        self.breaks: list[dict[str, Any]] = []

    def add_checkpoint(self, text: str) -> Checkpoint:
        checkpoint = parse_and_verify_checkpoint(text, self.keys)
        for witness in self.witnesses:
            if verify_cosignature(text, witness) is not None:
                self.witnessed[witness.name] = max(self.witnessed.get(witness.name, 0), checkpoint.size)
        if self.origin is not None and checkpoint.origin != self.origin:
            raise VerificationFailed("checkpoint_unknown_key", None, "a checkpoint names another log")
        known = self.checkpoints.get(checkpoint.size)
        if known is not None and known.root != checkpoint.root:
            raise VerificationFailed("checkpoint_fork", None, f"two signed roots for size {checkpoint.size}")
        self.checkpoints[checkpoint.size] = checkpoint
        return checkpoint

    def add_published(self, files: list[dict[str, Any]]) -> None:
        """Published checkpoint files (the operator's append-only directory, or an export's ``published``
        records): each note is a checkpoint; leaves chained from the previous file's frontier that give the
        signed root are kept to name the exact position of a later change."""
        frontiers: dict[int, list[bytes]] = {0: []}
        parsed = []
        for data in files:
            try:
                if data.get("format") != PUBLISHED_FORMAT:
                    raise ValueError("format")
                size, start = int(data["size"]), int(data["from"])
                nodes = [bytes.fromhex(node) for node in data["frontier"]]
                leaves = base64.b64decode(data["leaves"], validate=True)
                note = str(data["note"])
            except (KeyError, TypeError, ValueError, binascii.Error) as exc:
                raise UnusableInput("an unreadable published checkpoint") from exc
            parsed.append((size, start, nodes, leaves, note))
        for size, start, nodes, leaves, note in sorted(parsed, key=lambda item: item[0]):
            checkpoint = self.add_checkpoint(note)
            if checkpoint.size != size or _fold(nodes) != checkpoint.root or len(nodes) != size.bit_count():
                raise VerificationFailed("published_checkpoint_invalid", None, f"published file {size} is inconsistent")
            self.published += 1
            frontiers[size] = nodes
            base = frontiers.get(start)
            if base is None or len(leaves) != 32 * (size - start):
                continue
            frontier = _Frontier()
            frontier.size, frontier.nodes = start, list(base)
            for offset in range(0, len(leaves), 32):
                frontier.append(leaves[offset : offset + 32])
            if frontier.root() == checkpoint.root:
                self.segments.append((start, size, leaves))

    def leaf(self, record: Record, position: int | None) -> bytes:
        if record.seq is None:
            entry = record.entry()
            seq = entry.get("seq") if isinstance(entry, dict) else None
            record.seq = seq if type(seq) is int else None
        if record.seq is None:
            raise VerificationFailed("malformed_entry", position, "entry without an integer seq")
        seq = record.seq
        data = record.entry_bytes if record.entry_bytes is not None else _canonical(record.entry())
        digest = _sha256(b"\x00" + data).digest()
        stated = record.data.get("leaf_hash")
        if stated is not None and stated != digest.hex() and record.entry_bytes is not None:
            try:  # non-canonical spacing from another tool: hash the canonical form instead
                digest = _sha256(b"\x00" + _canonical(record.entry())).digest()
            except ValueError as exc:
                raise VerificationFailed("malformed_entry", seq, "entry is not JSON") from exc
        if stated is not None and stated != digest.hex():
            raise VerificationFailed("leaf_hash_mismatch", seq, "content does not match its stated hash")
        return digest

    def full(self, records: Iterator[Record | bytes]) -> None:
        """Every entry from position 0: recompute each leaf hash and the root at every checkpoint size.

        The hot loop takes a raw service-written line, checks that its top-level seq (the last ``,"seq":`` key:
        in sorted canonical form only target, time and v follow it, and no string can hold an unescaped quote)
        is the position, hashes the canonical bytes as they are and compares with the stated hash. Anything
        else (another layout, a mismatch) goes through the full parse below, which names the failure. Where a
        published checkpoint holds the leaf hashes, each recomputed hash must also equal the published one:
        that names the exact position of a change even when every stated hash was recomputed."""
        sizes = [*sorted(self.checkpoints), -1]
        next_cp, target = 0, sizes[0]
        segments = [*sorted(self.segments), (-1, -1, b"")]
        next_segment = 0
        low, high, published = segments[0]
        frontier = _Frontier()
        append, sha256 = frontier.append, _sha256
        count = 0
        for item in records:
            while count == target:
                self.entries = count
                self._check_root(frontier, target)
                next_cp += 1
                target = sizes[next_cp]
            while high != -1 and count >= high:
                next_segment += 1
                low, high, published = segments[next_segment]
            if isinstance(item, bytes):
                data = item[103:-1]
                at = data.rfind(b',"seq":')
                if at > 0 and data.startswith(b"%d," % count, at + 7):
                    digest = sha256(b"\x00" + data).digest()
                    if digest.hex().encode() == item[29:93]:
                        if low <= count < high and published[32 * (count - low) : 32 * (count - low + 1)] != digest:
                            self.entries = count
                            raise VerificationFailed(
                                "published_leaf_mismatch", count, "the entry differs from the published leaf hash"
                            )
                        append(digest)
                        count += 1
                        continue
            self.entries = count
            record = _as_record(item)
            digest = self.leaf(record, count)
            seq = record.seq
            assert seq is not None  # nosec B101 - leaf() refuses an entry without an integer seq
            if seq != count:
                reason = "sequence_gap" if seq > count else "sequence_repeat"
                raise VerificationFailed(reason, count, f"expected seq {count}, found {seq}")
            if low <= count < high and published[32 * (count - low) : 32 * (count - low + 1)] != digest:
                raise VerificationFailed("published_leaf_mismatch", count, "the entry differs from its published hash")
            append(digest)
            count += 1
        self.entries = count
        while count == target:
            self._check_root(frontier, target)
            next_cp += 1
            target = sizes[next_cp]
        if target != -1:
            raise VerificationFailed("log_truncated", count, f"a checkpoint covers {target} entries, found {count}")

    def _check_root(self, frontier: _Frontier, size: int) -> None:
        if frontier.root() != self.checkpoints[size].root:
            raise VerificationFailed(
                "checkpoint_root_mismatch",
                self.verified,
                f"entries before {size} do not hash to the signed root",
                range_end=size,
            )
        self.verified = size

    def filtered(self, records: Iterator[Record | bytes]) -> None:
        for item in records:
            record = _as_record(item)
            digest = self.leaf(record, None)
            seq = record.seq
            assert seq is not None  # nosec B101 - leaf() refuses an entry without an integer seq
            proof = record.data.get("proof") or {}
            size = proof.get("size")
            checkpoint = self.checkpoints.get(size) if type(size) is int else None
            if checkpoint is None:
                raise VerificationFailed("proof_missing", seq, "no inclusion proof to a signed checkpoint")
            path = [bytes.fromhex(h) for h in proof.get("path", [])]
            if not _verify_inclusion(digest, seq, checkpoint.size, path, checkpoint.root):
                raise VerificationFailed("inclusion_proof_invalid", seq, "entry is not in the signed tree")
            self.entries += 1
            self.verified += 1

    def consistency(self, proofs: list[dict[str, Any]], *, required: bool) -> None:
        """Check the given proofs; a filtered export must prove every consecutive pair of checkpoints (a full
        export proves consistency by recomputing every root from the entries)."""
        sizes = sorted(self.checkpoints)
        given = {(p["from"], p["to"]): [bytes.fromhex(h) for h in p["path"]] for p in proofs}
        for old, new in given:
            if old not in self.checkpoints or new not in self.checkpoints:
                raise VerificationFailed("proof_missing", old, f"no checkpoints for the proof {old} to {new}")
        for old, new in itertools.pairwise(sizes):
            path = given.get((old, new))
            if path is None and not required:
                continue
            if path is None:
                raise VerificationFailed("proof_missing", old, f"no consistency proof from {old} to {new}")
            old_root, new_root = self.checkpoints[old].root, self.checkpoints[new].root
            if not _verify_consistency(old, new, old_root, new_root, path):
                raise VerificationFailed(
                    "consistency_proof_invalid", old, f"tree {old} is not a prefix of tree {new}", range_end=new
                )
