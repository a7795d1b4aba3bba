"""Verification speed of the audit log, and inclusion proof sizes.

Builds a sealed log of N entries (default 1,000,000; fixed seed, realistic entry shape) with a signed
checkpoint every 10,000 entries, writes it as a full JSON Lines export, then measures:
- the offline verifier over the export file (read, parse, hash, Merkle roots, signatures);
- the service's pure verifier over the same entries (already parsed, as the database path feeds it);
- inclusion proof sizes (hashes and bytes) for trees of 10^3..10^9 leaves.
Prints one JSON object. `--quick` uses 50,000 entries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.audit import merkle, offline_verify, verifier
from governance.audit.canonical import build_entry, canonical_bytes
from governance.audit.checkpoint import sign_checkpoint
from governance.audit.export import EXPORT_FORMAT

ORIGIN = "bench.governance/audit"
KEY_NAME = "bench-audit"
ACTIONS = ["consent.granted", "consent.withdrawn", "vault.field.read", "dsr.erasure.completed", "gateway.release.made"]


def write_export(path: Path, size: int, every: int, key: Ed25519PrivateKey) -> list:
    rng = random.Random(4)
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    frontier = merkle.Frontier()
    checkpoints = []
    entry_lines = path.with_suffix(".entries")
    with entry_lines.open("w", encoding="utf-8") as out:
        for seq in range(size):
            entry = build_entry(
                seq=seq,
                time=t0 + dt.timedelta(microseconds=seq * 1700),
                actor_kind=rng.choice(("staff", "client", "system", "subject")),
                actor_id=str(uuid.UUID(int=rng.getrandbits(128))),
                action=rng.choice(ACTIONS),
                target_kind="subject",
                target_id=str(uuid.UUID(int=rng.getrandbits(128))),
                request_id=f"{rng.getrandbits(64):016x}",
                policy_version="policies@4f2a9c1",
                details={"purpose": "personalization", "fields": rng.randint(1, 9), "epsilon": "0.5"},
            )
            data = canonical_bytes(entry)
            digest = merkle.leaf_hash(data)
            frontier.append(digest)
            out.write('{"kind":"entry","leaf_hash":"' + digest.hex() + '","entry":' + data.decode() + "}\n")
            if frontier.size % every == 0 or frontier.size == size:
                at = t0 + dt.timedelta(seconds=frontier.size)
                checkpoints.append(
                    sign_checkpoint(
                        key, key_name=KEY_NAME, origin=ORIGIN, size=frontier.size, root=frontier.root(), time=at
                    )
                )
    with path.open("w", encoding="utf-8") as out:
        header = {"kind": "header", "format": EXPORT_FORMAT, "origin": ORIGIN, "scope": "full", "tree_size": size}
        out.write(json.dumps(header) + "\n")
        for cp in checkpoints:
            out.write(json.dumps({"kind": "checkpoint", "size": cp.size, "text": cp.to_text()}) + "\n")
        with entry_lines.open(encoding="utf-8") as entries:
            for line in entries:
                out.write(line)
        out.write(json.dumps({"kind": "end", "entries": size}) + "\n")
    entry_lines.unlink()
    return checkpoints


def parsed_entries(path: Path):
    with path.open("rb") as handle:
        for line in handle:
            if line.startswith(b'{"kind":"entry"'):
                data = json.loads(line)
                yield data["entry"], bytes.fromhex(data["leaf_hash"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--entries", type=int, default=None)
    args = parser.parse_args()
    size = args.entries or (50_000 if args.quick else 1_000_000)
    every = 10_000
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.jsonl"
        started = time.perf_counter()
        checkpoints = write_export(path, size, every, key)
        build_seconds = time.perf_counter() - started

        started = time.perf_counter()
        report = offline_verify.verify_export(str(path), [(KEY_NAME, key.public_key())])
        offline_seconds = time.perf_counter() - started
        assert report.ok, report.message()
        assert report.verified_entries == size

        # the service verifier, fed already-parsed entries (parsing timed separately)
        entries = list(parsed_entries(path)) if size <= 200_000 else None
        if entries is None:
            started = time.perf_counter()
            service_report = verifier.verify_log(parsed_entries(path), checkpoints, {KEY_NAME: key.public_key()})
            service_seconds = time.perf_counter() - started
            service_note = "includes reading and parsing the JSON Lines file"
        else:
            started = time.perf_counter()
            service_report = verifier.verify_log(entries, checkpoints, {KEY_NAME: key.public_key()})
            service_seconds = time.perf_counter() - started
            service_note = "entries already parsed in memory"
        assert service_report.ok, service_report.message
        file_bytes = os.path.getsize(path)

    proof_sizes = {}
    for exponent in (3, 6, 9):
        n = 10**exponent
        hashes = (n - 1).bit_length()  # the longest audit path in a tree of n leaves
        proof_sizes[f"1e{exponent}"] = {"max_hashes": hashes, "max_bytes": hashes * 32}
    tree = merkle.InMemoryTree(merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(4096))
    measured = [len(merkle.inclusion_proof(tree, i, 4096)) for i in range(0, 4096, 97)]

    print(json.dumps({
        "figure": "audit_verify",
        "entries": size,
        "checkpoint_every": every,
        "export_bytes": file_bytes,
        "build_seconds": round(build_seconds, 2),
        "offline_verify_seconds": round(offline_seconds, 2),
        "offline_entries_per_second": round(size / offline_seconds),
        "service_verify_seconds": round(service_seconds, 2),
        "service_entries_per_second": round(size / service_seconds),
        "service_verify_note": service_note,
        "target": "1,000,000 entries in under 10 s",
        "inclusion_proof": {"by_tree_size": proof_sizes, "measured_hashes_at_4096": max(measured)},
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
