"""Pure verification of an audit log against itself and against signed checkpoints.

Input: the entries in log order, each as (typed entry, stored leaf hash or None), and the checkpoints. The
verifier never trusts a stored hash: it recomputes every leaf hash from the entry's canonical bytes and every
tree head from those leaves. What it can name depends on the attacker:

- **Naive tampering** (stored hashes left as they were): altering a field, deleting, inserting, swapping or
  reordering entries breaks the entry's own check (its ``seq`` is hashed with it and must equal its position;
  its recomputed leaf hash must equal the stored one), so the report names the exact position ``i``.
- **Recomputed tampering** (every stored hash and sequence number rewritten to be self-consistent): only the
  signed checkpoints, whose key is not in the database, still disagree. The report then says the first
  ``verified_entries`` entries (the prefix proven by the last checkpoint whose root matches) are authentic and
  that the first change lies in ``[position, range_end)``, where ``range_end`` is the size of the first
  checkpoint that fails. The position is therefore known to within one checkpoint interval (N entries).
- **Truncation** (entries removed from the end) is found when a checkpoint covers more entries than remain:
  ``position`` is the first missing entry. Entries after the newest checkpoint are checked for internal
  consistency only (``unanchored_entries``); the sealer signs a checkpoint every N entries or M seconds,
  which bounds that window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from governance.audit.canonical import _ENCODER, CanonicalizationError
from governance.audit.checkpoint import Checkpoint, CheckpointError, verify_checkpoint
from governance.audit.merkle import Frontier

__all__ = ["Failure", "VerifyReport", "verify_leaves", "verify_log"]

# Stable reason codes (also used by the API and the offline verifier).
SEQUENCE_GAP = "sequence_gap"  # the entry here carries a later number: the expected entry is missing/moved
SEQUENCE_REPEAT = "sequence_repeat"  # the entry here carries an earlier number: inserted or moved entry
LEAF_HASH_MISMATCH = "leaf_hash_mismatch"  # the entry's content does not hash to its stored leaf hash
MALFORMED_ENTRY = "malformed_entry"  # the entry cannot be canonicalized or has no integer seq
CHECKPOINT_ROOT_MISMATCH = "checkpoint_root_mismatch"  # entries before the checkpoint differ from what was signed
CHECKPOINT_FORK = "checkpoint_fork"  # two signed checkpoints of one size disagree: the signer forked
LOG_TRUNCATED = "log_truncated"  # a checkpoint covers entries the log no longer has
PUBLISHED_LEAF_MISMATCH = "published_leaf_mismatch"  # the entry differs from the leaf published outside the db
PUBLISHED_CHECKPOINT_INVALID = "published_checkpoint_invalid"  # a published file does not verify


@dataclass(frozen=True, slots=True)
class Failure:
    """The first failure found.

    ``position`` is a 0-based log position (== seq); for checkpoint failures the change lies in
    ``[position, range_end)``; ``checkpoint`` is the index (by size) of the checkpoint involved.
    """

    reason: str
    position: int | None
    detail: str
    range_end: int | None = None
    checkpoint: int | None = None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    entries: int  # entries read and checked before stopping
    verified_entries: int  # leading entries proven by a signed checkpoint
    checkpoints_verified: int
    checkpoint_index: int | None  # the last checkpoint that matched (0-based, by size)
    checkpoint_size: int | None
    checkpoint_root: str | None
    unanchored_entries: int  # entries after the newest matching checkpoint, checked only against themselves
    root: str | None  # the recomputed root over all entries read (when ok)
    failure: Failure | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # the tree's right edge at the last matching checkpoint: where an incremental check can continue from
    anchor: Frontier | None = field(default=None, repr=False, compare=False)

    @property
    def message(self) -> str:
        if self.failure is not None:
            where = "" if self.failure.position is None else f" at entry {self.failure.position}"
            if self.failure.range_end is not None:
                where = f" between entries {self.failure.position} and {self.failure.range_end - 1}"
            return f"verification failed{where}: {self.failure.reason} ({self.failure.detail})"
        if self.checkpoint_index is None:
            return f"{self.entries} entries are self-consistent but no signed checkpoint covers them"
        text = f"verified {self.verified_entries} entries up to checkpoint {self.checkpoint_index}"
        if self.unanchored_entries:
            text += f"; {self.unanchored_entries} newer entries are not yet covered by a checkpoint"
        return text

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        data.pop("anchor")
        data.update(self.extra)
        data["message"] = self.message
        return data


def verify_log(
    entries: Iterable[tuple[Mapping[str, Any], bytes | None]],
    checkpoints: Iterable[Checkpoint],
    public_keys: Mapping[str, Ed25519PublicKey] | Sequence[tuple[str, Ed25519PublicKey]],
    *,
    origin: str | None = None,
) -> VerifyReport:
    """Verify ``entries`` (typed entries in log order, each with its stored leaf hash) against ``checkpoints``
    signed by ``public_keys``. Streams: memory is O(log n) plus the checkpoints. Never raises for a bad log."""
    encode = _ENCODER.encode

    def leaves() -> Iterator[tuple[int | None, bytes | None, bytes | None]]:
        for entry, stored in entries:
            seq = entry.get("seq") if isinstance(entry, Mapping) else None
            if type(seq) is not int:
                yield None, None, stored
                continue
            try:
                data: bytes | None = encode(entry).encode()
            except (TypeError, ValueError, CanonicalizationError):
                data = None
            yield seq, data, stored

    return verify_leaves(leaves(), checkpoints, public_keys, origin=origin)


def verify_leaves(
    leaves: Iterable[tuple[int | None, bytes | None, bytes | None]],
    checkpoints: Iterable[Checkpoint],
    public_keys: Mapping[str, Ed25519PublicKey] | Sequence[tuple[str, Ed25519PublicKey]],
    *,
    origin: str | None = None,
    published: Iterable[tuple[int, bytes]] = (),
    start: Frontier | None = None,
    first_index: int = 0,
) -> VerifyReport:
    """The verifier's core: ``leaves`` are (seq, canonical entry bytes, stored leaf hash) in log order; seq None
    means the entry has no integer seq, bytes None that it has no canonical form.

    Every leaf hash is recomputed from the bytes (a stored hash is only compared, never trusted) and the tree
    root is recomputed at every checkpoint size. The loop does one SHA-256 per entry plus the amortized one
    node hash of the frontier, and nothing else per entry. ``published`` are (start, concatenated leaf hashes)
    intervals authenticated outside the database (`publish.leaf_segments`): a recomputed leaf that differs
    from the published one is named at its exact position (`published_leaf_mismatch`).

    ``start`` continues from an earlier verified tree (an incremental check): ``leaves`` then begin at position
    ``start.size``, ``checkpoints`` are those of that size and larger and ``first_index`` is the index (by size)
    of the first of them, so that the counts and indexes in the report still cover the whole log."""
    ordered = sorted(checkpoints, key=lambda cp: (cp.size, cp.time))
    state = _State()
    if start is not None:
        state.verified = state.entries = start.size
    state.checkpoints_verified = first_index
    bad_signature = _signature_failure(ordered, public_keys, origin, first_index)
    if bad_signature is not None:
        return state.report(bad_signature)

    frontier = Frontier(start.size, start.nodes) if start is not None else Frontier()
    append = frontier.append
    sha256 = hashlib.sha256
    sizes = [cp.size for cp in ordered] + [-1]
    next_cp = 0
    next_size = sizes[0]
    segments = [(first, first + len(blob) // 32, blob) for first, blob in sorted(published)] + [(-1, -1, b"")]
    next_segment = 0
    low, high, expected = segments[0]
    count = frontier.size
    for seq, data, stored in leaves:
        while count == next_size:
            state.entries = count
            failure = state.check(ordered[next_cp], next_cp + first_index, frontier)
            if failure:
                return state.report(failure)
            next_cp += 1
            next_size = sizes[next_cp]
        if seq != count:
            state.entries = count
            if type(seq) is not int:
                return state.report(Failure(MALFORMED_ENTRY, count, "entry without an integer seq"))
            reason = SEQUENCE_GAP if seq > count else SEQUENCE_REPEAT
            return state.report(Failure(reason, count, f"expected seq {count}, found {seq}"))
        if data is None:
            state.entries = count
            return state.report(Failure(MALFORMED_ENTRY, count, "entry has no canonical form"))
        computed = sha256(b"\x00" + data).digest()
        if stored is not None and stored != computed:
            state.entries = count
            return state.report(Failure(LEAF_HASH_MISMATCH, count, "content does not match its stored hash"))
        while high != -1 and count >= high:
            next_segment += 1
            low, high, expected = segments[next_segment]
        if low <= count < high and expected[32 * (count - low) : 32 * (count - low + 1)] != computed:
            state.entries = count
            return state.report(Failure(PUBLISHED_LEAF_MISMATCH, count, "the entry differs from its published hash"))
        append(computed)
        count += 1
    state.entries = count
    return _finish(state, ordered[next_cp:], next_cp + first_index, frontier)


def _signature_failure(
    ordered: Sequence[Checkpoint],
    public_keys: Mapping[str, Ed25519PublicKey] | Sequence[tuple[str, Ed25519PublicKey]],
    origin: str | None,
    first_index: int,
) -> Failure | None:
    """The first checkpoint whose signature or origin does not verify, as a failure."""
    for index, checkpoint in enumerate(ordered, start=first_index):
        try:
            verify_checkpoint(checkpoint, public_keys, origin=origin)
        except CheckpointError as exc:
            return Failure(exc.code, None, f"checkpoint {index} (size {checkpoint.size}): {exc}", checkpoint=index)
    return None


def _finish(state: _State, remaining: Sequence[Checkpoint], index: int, frontier: Frontier) -> VerifyReport:
    """After the last entry: check the checkpoints of exactly the log's size; any larger one means entries
    are missing from the end (`remaining` are the checkpoints not yet checked, the first of them at `index`)."""
    count = frontier.size
    position = 0
    while position < len(remaining) and remaining[position].size == count:
        failure = state.check(remaining[position], index + position, frontier)
        if failure:
            return state.report(failure)
        position += 1
    if position < len(remaining):
        missing = remaining[position]
        return state.report(
            Failure(
                LOG_TRUNCATED,
                count,
                f"checkpoint {index + position} covers {missing.size} entries, the log has {count}",
                range_end=None,
                checkpoint=index + position,
            )
        )
    return state.report(None, root=frontier.root())


class _State:
    """What the verifier has established so far."""

    def __init__(self) -> None:
        self.entries = 0
        self.verified = 0
        self.checkpoints_verified = 0
        self.last: tuple[int, Checkpoint] | None = None
        self.anchor: Frontier | None = None

    def check(self, checkpoint: Checkpoint, index: int, frontier: Frontier) -> Failure | None:
        if self.last and self.last[1].size == checkpoint.size and self.last[1].root != checkpoint.root:
            return Failure(
                CHECKPOINT_FORK,
                None,
                f"checkpoints {self.last[0]} and {index} sign different roots for size {checkpoint.size}",
                checkpoint=index,
            )
        if frontier.root() != checkpoint.root:
            return Failure(
                CHECKPOINT_ROOT_MISMATCH,
                self.verified,
                f"entries before {checkpoint.size} do not hash to the root signed in checkpoint {index}",
                range_end=checkpoint.size,
                checkpoint=index,
            )
        self.verified = checkpoint.size
        self.checkpoints_verified += 1
        self.last = (index, checkpoint)
        self.anchor = Frontier(frontier.size, frontier.nodes)
        return None

    def report(self, failure: Failure | None, root: bytes | None = None) -> VerifyReport:
        index, checkpoint = self.last if self.last else (None, None)
        return VerifyReport(
            ok=failure is None,
            entries=self.entries,
            verified_entries=self.verified,
            checkpoints_verified=self.checkpoints_verified,
            checkpoint_index=index,
            checkpoint_size=checkpoint.size if checkpoint else None,
            checkpoint_root=checkpoint.root.hex() if checkpoint else None,
            unanchored_entries=self.entries - self.verified,
            root=root.hex() if root is not None else None,
            failure=failure,
            anchor=self.anchor if failure is None else None,
        )
