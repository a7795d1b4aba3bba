"""The command line: ``offline_verify EXPORT --public-key KEY.pem`` or ``--proof PROOF.json``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .exports import Report, verify_export
from .failures import UnusableInput
from .notes import parse_vkey
from .proofs import ProofReport, verify_proof


def _load_key(path: str, name: str) -> tuple[str, Ed25519PublicKey]:
    try:
        with open(path, "rb") as handle:
            key = serialization.load_pem_public_key(handle.read())
    except (OSError, ValueError) as exc:
        raise UnusableInput(f"cannot read public key {path}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise UnusableInput(f"{path} is not an Ed25519 public key")
    return name, key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a governance audit export offline.")
    parser.add_argument("export", nargs="?", help="EXPORT.jsonl or EXPORT.csv from /api/v1/audit/export")
    parser.add_argument("--proof", help="a proof file from `governance audit prove-*` or /api/v1/audit/proofs/*")
    parser.add_argument("--public-key", action="append", required=True, help="PEM file; repeat after rotations")
    parser.add_argument("--key-name", default="governance-audit", help="the key name in the checkpoints")
    parser.add_argument("--checkpoint", action="append", default=[], help="a checkpoint you saved earlier")
    parser.add_argument("--published-dir", help="a copy of the operator's published checkpoint directory")
    parser.add_argument(
        "--witness-key", action="append", default=[], help="a witness vkey whose cosignature is required; repeat"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if (args.export is None) == (args.proof is None):
        parser.error("give either an export file or --proof FILE")
    started = dt.datetime.now(dt.UTC)
    try:
        keys = [_load_key(path, args.key_name) for path in args.public_key]
        saved = []
        for path in args.checkpoint:
            with open(path, encoding="utf-8") as handle:
                saved.append(handle.read())
        if args.proof is not None:
            report: Report | ProofReport = verify_proof(args.proof, keys, saved_checkpoints=saved)
        else:
            report = verify_export(
                args.export,
                keys,
                extra_checkpoints=saved,
                published_dir=args.published_dir,
                witness_keys=[parse_vkey(text) for text in args.witness_key],
            )
    except (UnusableInput, OSError) as exc:
        print(f"unusable input: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**report.__dict__, "message": report.message(), "started": started.isoformat()}))
    else:
        print(report.message())
    return 0 if report.ok else 1
