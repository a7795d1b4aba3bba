"""Verify an audit export offline: ``python -m governance.audit.offline_verify EXPORT.jsonl --public-key KEY.pem``,
or one proof: ``... --proof PROOF.json --checkpoint SAVED.txt --public-key KEY.pem``.

This package is deliberately self-contained (Python standard library + ``cryptography``, relative imports only):
it is shipped to auditors as one file, the zipapp ``offline_verify.pyz`` built by
``python -m governance.audit.offline_verify.build`` (``python offline_verify.pyz EXPORT.jsonl …`` runs on a machine
that has never seen the service). It re-implements the checks independently of the service's own verifier (the
tests hold the two to the same answers).

The modules: ``trees`` (RFC 9162 hashing and proof checks), ``notes`` (signed checkpoints, witness
cosignatures), ``records`` (reading JSON Lines and CSV exports), ``export_checks`` and ``exports`` (verifying an
export), ``proofs`` (a single consistency or inclusion proof), ``cli`` (the command line), ``build`` (the
zipapp).

What it checks (see docs/audit.md, "Verifying offline"):

1. every checkpoint in the export (and in ``--checkpoint`` files the auditor kept from earlier) carries a valid
   Ed25519 signature by a trusted key and names the expected origin;
2. a *full* export (every entry from seq 0): each entry's seq equals its position, its canonical bytes hash to
   its stated leaf hash, and the RFC 9162 root over the leaves at each checkpoint's size equals the signed root;
   a checkpoint larger than the export means entries are missing;
3. a *filtered* export (search results): each entry's inclusion proof leads from its leaf hash to the signed
   root of the checkpoint it names;
4. the consistency proofs between consecutive checkpoints: each older tree is a prefix of the newer one;
5. with ``--proof``: a consistency proof from a checkpoint the auditor saved earlier (``--checkpoint``) to a newly
   signed one, or an inclusion proof of one entry in a signed checkpoint.
6. with ``--published-dir`` (a copy of the operator's published checkpoint directory) and the export's own
   ``published`` records: each published checkpoint's signature, frontier and leaf hashes; each exported entry's
   recomputed leaf hash must equal the published one (the exact position of a recomputed change);
7. with ``--witness-key VKEY``: the witness's C2SP tlog-cosignature v1 on at least one checkpoint, and every
   cosignature line of that witness must verify.

Exit status 0 when everything verifies, 1 when something does not (the first failure is printed with its
position and reason code), 2 for unusable input. ``--json`` prints the report as one JSON object.
"""

from .cli import main
from .exports import EXPORT_FORMAT, Report, read_published_dir, verify_export
from .failures import UnusableInput, VerificationFailed
from .notes import (
    Checkpoint,
    WitnessKey,
    cosignature_key_id,
    cosignature_message,
    parse_and_verify_checkpoint,
    parse_vkey,
    verify_cosignature,
)
from .proofs import PROOF_FORMAT, ProofReport, verify_proof
from .records import _read_jsonl as _read_jsonl
from .trees import EMPTY_ROOT, verify_consistency

# `_read_jsonl` is re-exported for tests/audit (the raw-line fast path); it is not part of the contract.
__all__ = [
    "EMPTY_ROOT",
    "EXPORT_FORMAT",
    "PROOF_FORMAT",
    "Checkpoint",
    "ProofReport",
    "Report",
    "UnusableInput",
    "VerificationFailed",
    "WitnessKey",
    "cosignature_key_id",
    "cosignature_message",
    "main",
    "parse_and_verify_checkpoint",
    "parse_vkey",
    "read_published_dir",
    "verify_consistency",
    "verify_cosignature",
    "verify_export",
    "verify_proof",
]
