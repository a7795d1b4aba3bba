"""Single proofs: consistency from a checkpoint the auditor saved, or inclusion of one entry in a signed tree."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .failures import UnusableInput, VerificationFailed
from .notes import Checkpoint, _key_hash, parse_and_verify_checkpoint
from .records import _canonical
from .trees import _verify_consistency, _verify_inclusion

_sha256 = hashlib.sha256

PROOF_FORMAT = "governance-audit-proof/1"


@dataclass
class ProofReport:
    ok: bool
    kind: str
    text: str
    failure: dict[str, Any] | None = None

    def message(self) -> str:
        if self.failure:
            return f"FAILED: {self.failure['reason']} ({self.failure['detail']})"
        return f"OK: {self.text}"


def _hashes(values: Any) -> list[bytes]:
    if not isinstance(values, list):
        raise UnusableInput("the proof path is not a list")
    try:
        return [bytes.fromhex(value) for value in values]
    except (TypeError, ValueError) as exc:
        raise UnusableInput("the proof path holds something other than hex hashes") from exc


def verify_proof(
    path: str, public_keys: list[tuple[str, Ed25519PublicKey]], *, saved_checkpoints: Sequence[str] = ()
) -> ProofReport:
    """Verify a proof file from ``governance audit prove-*`` or ``/api/v1/audit/proofs/*``.

    Consistency: the tree of ``old_size`` (the root comes from the checkpoint you saved, given with
    ``--checkpoint``) is a prefix of the newly signed tree. Inclusion: the entry hashes to its leaf hash and the
    audit path leads to the signed root (of the proof's checkpoint, or of your saved one of that size)."""
    try:
        with open(path, encoding="utf-8") as handle:
            proof = json.load(handle)
    except (OSError, ValueError) as exc:
        raise UnusableInput(f"cannot read the proof {path}") from exc
    if not isinstance(proof, dict) or proof.get("format") != PROOF_FORMAT:
        raise UnusableInput(f"not a {PROOF_FORMAT} file")
    keys = {_key_hash(name, key): (name, key) for name, key in public_keys}
    kind = str(proof.get("kind"))
    try:
        saved = [parse_and_verify_checkpoint(text, keys) for text in saved_checkpoints]
        for checkpoint in saved:
            if checkpoint.origin != proof.get("origin"):
                raise VerificationFailed("checkpoint_unknown_key", None, "a saved checkpoint names another log")
        signed = parse_and_verify_checkpoint(str(proof.get("checkpoint")), keys)
        if signed.origin != proof.get("origin"):
            raise VerificationFailed("checkpoint_unknown_key", None, "the proof's checkpoint names another log")
        mine = next((cp for cp in saved if cp.size == signed.size), None)
        if mine is not None and mine.root != signed.root:
            raise VerificationFailed("checkpoint_fork", None, f"two signed roots for size {signed.size}")
        if kind == "consistency":
            return _check_consistency(proof, signed, saved, keys)
        if kind == "inclusion":
            return _check_inclusion(proof, signed)
        raise UnusableInput(f"unknown proof kind {kind!r}")
    except VerificationFailed as exc:
        failure = {"reason": exc.reason, "position": exc.position, "detail": exc.detail, "range_end": exc.range_end}
        return ProofReport(False, kind, "", failure)


def _check_consistency(
    proof: dict[str, Any], new: Checkpoint, saved: list[Checkpoint], keys: dict[bytes, tuple[str, Ed25519PublicKey]]
) -> ProofReport:
    old_size, new_size = proof.get("old_size"), proof.get("new_size")
    if type(old_size) is not int or type(new_size) is not int:
        raise UnusableInput("the proof has no integer tree sizes")
    if new_size != new.size:
        raise VerificationFailed("proof_mismatch", None, f"the proof is to size {new_size}, its checkpoint {new.size}")
    old = next((cp for cp in saved if cp.size == old_size), None)
    source = "your saved checkpoint"
    if old is None and proof.get("old_checkpoint"):
        old = parse_and_verify_checkpoint(str(proof["old_checkpoint"]), keys)
        source = "the service's checkpoint (pass --checkpoint with the one you saved to rule out a fork)"
        if old.size != old_size:
            raise VerificationFailed("proof_mismatch", None, "the old checkpoint has another size")
    if old is None:
        raise UnusableInput(f"give the checkpoint of size {old_size} you saved with --checkpoint")
    if not _verify_consistency(old_size, new.size, old.root, new.root, _hashes(proof.get("path"))):
        raise VerificationFailed(
            "consistency_proof_invalid",
            old_size,
            f"the signed tree of size {new.size} does not extend the tree of size {old_size}",
            range_end=new.size,
        )
    return ProofReport(
        True,
        "consistency",
        f"the signed tree of size {new.size} ({new.time}) extends the tree of size {old_size} from {source}",
    )


def _check_inclusion(proof: dict[str, Any], signed: Checkpoint) -> ProofReport:
    seq, size, entry = proof.get("seq"), proof.get("tree_size"), proof.get("entry")
    if type(seq) is not int or type(size) is not int or not isinstance(entry, dict):
        raise UnusableInput("the proof has no integer seq and tree size, or no entry")
    if size != signed.size:
        raise VerificationFailed("proof_mismatch", seq, f"the proof is to size {size}, its checkpoint {signed.size}")
    if entry.get("seq") != seq:
        raise VerificationFailed("sequence_gap", seq, f"the entry carries seq {entry.get('seq')}, not {seq}")
    try:
        digest = _sha256(b"\x00" + _canonical(entry)).digest()
    except ValueError as exc:
        raise VerificationFailed("malformed_entry", seq, "the entry has no canonical form") from exc
    if proof.get("leaf_hash") != digest.hex():
        raise VerificationFailed("leaf_hash_mismatch", seq, "the entry does not match its stated hash")
    if not _verify_inclusion(digest, seq, size, _hashes(proof.get("path")), signed.root):
        raise VerificationFailed("inclusion_proof_invalid", seq, "the entry is not in the signed tree")
    return ProofReport(True, "inclusion", f"entry {seq} is in the signed tree of size {size} ({signed.time})")
