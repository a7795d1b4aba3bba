"""Verify an audit export offline: ``python -m governance.audit.offline_verify EXPORT.jsonl --public-key KEY.pem``,
or one proof: ``... --proof PROOF.json --checkpoint SAVED.txt --public-key KEY.pem``.

This file is deliberately self-contained (Python standard library + ``cryptography``): an auditor can copy it
out of the repository and run it on a machine that has never seen the service, and it re-implements the
checks independently of the service's own verifier (the tests hold the two to the same answers).

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

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import datetime as dt
import hashlib
import itertools
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EXPORT_FORMAT = "governance-audit-export/1"
PUBLISHED_FORMAT = "governance-audit-published/1"
_SIG_PREFIX = "\u2014 "
_ENTRY_PREFIX = b'{"kind":"entry","leaf_hash":"'
_sha256 = hashlib.sha256


class VerificationFailed(Exception):
    def __init__(self, reason: str, position: int | None, detail: str, range_end: int | None = None) -> None:
        super().__init__(detail)
        self.reason, self.position, self.detail, self.range_end = reason, position, detail, range_end


class UnusableInput(Exception):
    """The export or the key cannot be read at all."""


# --- RFC 9162 hashing -------------------------------------------------------------------------------------


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


# --- witness cosignatures (C2SP tlog-cosignature v1, Ed25519) ---------------------------------------------


def cosignature_key_id(name: str, key: Ed25519PublicKey) -> bytes:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _sha256(name.encode() + b"\n\x04" + raw).digest()[:4]


def cosignature_message(body: str, timestamp: int) -> bytes:
    """What a v1 cosignature signs: two header lines, then the checkpoint body (with its final newline)."""
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode()


@dataclass(frozen=True)
class WitnessKey:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey


def parse_vkey(text: str) -> WitnessKey:
    """A witness verifier key ``<name>+<key id hex>+<base64(0x04 || Ed25519 public key)>``."""
    name, _, rest = text.strip().partition("+")
    key_id_hex, _, material_text = rest.partition("+")
    try:
        material = base64.b64decode(material_text, validate=True)
        key_id = bytes.fromhex(key_id_hex)
    except (ValueError, binascii.Error) as exc:
        raise UnusableInput("unreadable witness key") from exc
    if not name or len(material) != 33 or material[0] != 4 or len(key_id) != 4:
        raise UnusableInput("a witness key is name+keyid+base64(0x04 || 32-byte Ed25519 key)")
    key = Ed25519PublicKey.from_public_bytes(material[1:])
    if cosignature_key_id(name, key) != key_id:
        raise UnusableInput("the witness key id does not match its name and key")
    return WitnessKey(name, key_id, key)


def verify_cosignature(text: str, witness: WitnessKey) -> int | None:
    """The timestamp of `witness`'s valid cosignature on the note `text`, None when it carries none; raises
    VerificationFailed when a line by that witness does not verify."""
    body, sep, signatures = text.partition("\n\n")
    if not sep:
        return None
    for line in signatures.split("\n"):
        if not line.startswith(_SIG_PREFIX + witness.name + " "):
            continue
        try:
            blob = base64.b64decode(line.rpartition(" ")[2], validate=True)
        except (ValueError, binascii.Error):
            continue
        if len(blob) != 4 + 8 + 64 or blob[:4] != witness.key_id:
            continue
        timestamp = int.from_bytes(blob[4:12], "big")
        try:
            witness.public_key.verify(blob[12:], cosignature_message(body + "\n", timestamp))
        except InvalidSignature as exc:
            raise VerificationFailed(
                "witness_cosignature_invalid", None, f"bad cosignature by {witness.name} on a checkpoint"
            ) from exc
        return timestamp
    return None


# --- checkpoints (C2SP signed note) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    time: str
    key_name: str
    text: str


def _key_hash(name: str, key: Ed25519PublicKey) -> bytes:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _sha256(name.encode() + b"\n\x01" + raw).digest()[:4]


def parse_and_verify_checkpoint(text: str, keys: dict[bytes, tuple[str, Ed25519PublicKey]]) -> Checkpoint:
    """Parse a signed checkpoint and check one signature by a trusted key; raises VerificationFailed."""
    body, sep, signatures = text.partition("\n\n")
    lines = body.split("\n")
    if not sep or len(lines) != 4 or not lines[3].startswith("time ") or not lines[1].isdigit():
        raise VerificationFailed("checkpoint_malformed", None, "not a checkpoint note")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except (ValueError, binascii.Error) as exc:
        raise VerificationFailed("checkpoint_malformed", None, "unreadable root hash") from exc
    signed = (body + "\n").encode()
    for line in signatures.split("\n"):
        if not line.startswith(_SIG_PREFIX):
            continue
        name, _, blob_text = line[len(_SIG_PREFIX) :].partition(" ")
        try:
            blob = base64.b64decode(blob_text, validate=True)
        except (ValueError, binascii.Error):
            continue
        trusted = keys.get(blob[:4])
        if trusted is None or trusted[0] != name or len(blob) != 68:
            continue
        try:
            trusted[1].verify(blob[4:], signed)
        except InvalidSignature as exc:
            raise VerificationFailed(
                "checkpoint_signature_invalid", None, f"bad signature on the checkpoint of size {lines[1]}"
            ) from exc
        return Checkpoint(lines[0], int(lines[1]), root, lines[3][5:], name, text)
    raise VerificationFailed("checkpoint_unknown_key", None, f"no trusted signature on checkpoint {lines[1]}")


# --- reading exports --------------------------------------------------------------------------------------


@dataclass
class Record:
    kind: str
    data: dict[str, Any]
    entry_bytes: bytes | None = None  # the entry exactly as exported (canonical when produced by the service)
    seq: int | None = None  # read without parsing the entry (fast path); the entry is parsed only when needed

    def entry(self) -> Any:
        if "entry" not in self.data and self.entry_bytes is not None:
            self.data["entry"] = json.loads(self.entry_bytes)
        return self.data.get("entry")


def _fold(nodes: list[bytes]) -> bytes:
    """The root of a tree from its frontier (maximal perfect subtrees, left to right)."""
    if not nodes:
        return EMPTY_ROOT
    digest = nodes[-1]
    for left in reversed(nodes[:-1]):
        digest = _node(left, digest)
    return digest


def _canonical(entry: Any) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _entry_record(line: bytes) -> Record:
    """An entry line parsed in full (any key order or spacing)."""
    cut = line.find(b',"entry":')
    head = json.loads(line[:cut] + b"}")
    entry_bytes = line[cut + 9 : -1]
    head["entry"] = json.loads(entry_bytes)
    return Record("entry", head, entry_bytes)


def _read_jsonl(path: str) -> Iterator[Record | bytes]:
    """Records of a JSON Lines export. An entry line laid out as the service writes it
    (``{"kind":"entry","leaf_hash":"<64 hex>","entry":<canonical bytes>}``) is passed on as the raw line, so the
    full-export check can hash its bytes without building any object; every other line is parsed."""
    loads = json.loads
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip(b"\r\n")
            if not line:
                continue
            if line.startswith(_ENTRY_PREFIX) and line[93:103] == b'","entry":' and line[-1:] == b"}":
                yield line
                continue
            try:
                if line.startswith(_ENTRY_PREFIX):
                    yield _entry_record(line)
                else:
                    data = loads(line)
                    yield Record(str(data.get("kind")), data)
            except (ValueError, TypeError) as exc:
                raise UnusableInput(f"line {number} is not JSON") from exc


def _as_record(item: Record | bytes) -> Record:
    if not isinstance(item, bytes):
        return item
    try:
        return _entry_record(item)
    except (ValueError, TypeError) as exc:
        raise UnusableInput("an entry line is not JSON") from exc


def _read_csv(path: str) -> Iterator[Record]:
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            kind = row.get("kind", "")
            if kind == "entry":
                data: dict[str, Any] = {"leaf_hash": row["leaf_hash"], "entry": json.loads(row["entry_json"])}
                if row.get("proof_size"):
                    data["proof"] = {"size": int(row["proof_size"]), "path": row["proof_path"].split()}
                yield Record("entry", data, row["entry_json"].encode())
            elif kind == "checkpoint":
                yield Record("checkpoint", {"text": row["checkpoint"]})
            elif kind == "consistency":
                sizes = row["proof_size"].split("-")
                hashes = row["proof_path"].split()
                yield Record("consistency", {"from": int(sizes[0]), "to": int(sizes[1]), "path": hashes})
            elif kind in ("header", "end", "published", "cosigned", "break"):
                yield Record(kind, json.loads(row["entry_json"] or "{}"))


# --- verification -----------------------------------------------------------------------------------------


@dataclass
class Report:
    ok: bool
    scope: str
    entries: int
    verified_entries: int
    checkpoints: int
    unanchored_entries: int
    failure: dict[str, Any] | None
    published_checkpoints: int = 0
    witnessed: dict[str, int] | None = None  # witness name -> the largest tree size it cosigned

    def message(self) -> str:
        if self.failure:
            position = self.failure["position"]
            where = "" if position is None else f" at entry {position}"
            if self.failure.get("range_end") is not None:
                where = f" between entries {position} and {self.failure['range_end'] - 1}"
            return f"FAILED{where}: {self.failure['reason']} ({self.failure['detail']})"
        text = f"OK: verified {self.verified_entries} of {self.entries} exported entries against "
        text += f"{self.checkpoints} signed checkpoints"
        if self.published_checkpoints:
            text += f" ({self.published_checkpoints} published outside the database)"
        for name, size in sorted((self.witnessed or {}).items()):
            text += f"; witness {name} cosigned size {size}"
        if self.unanchored_entries:
            text += f"; {self.unanchored_entries} entries after the newest checkpoint are not covered"
        return text


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


class _Counter:
    """Passes entry records through, counting them and noting the end record's count."""

    def __init__(self) -> None:
        self.count = 0
        self.end: int | None = None

    def entries(self, first: Record | bytes | None, rest: Iterator[Record | bytes]) -> Iterator[Record | bytes]:
        if first is None:
            return
        self.count = 1
        yield first
        for record in rest:
            if isinstance(record, bytes) or record.kind == "entry":
                self.count += 1
                yield record
            elif record.kind == "end":
                self.end = record.data.get("entries")


def read_published_dir(directory: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The published checkpoint files and the witness-cosigned notes of an operator's checkpoint directory."""
    files, cosigned = [], []
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise UnusableInput(f"cannot read the published directory {directory}") from exc
    for name in names:
        path = os.path.join(directory, name)
        if name.startswith("checkpoint-") and name.endswith(".json"):
            try:
                with open(path, encoding="utf-8") as handle:
                    files.append(json.load(handle))
            except (OSError, ValueError) as exc:
                raise UnusableInput(f"unreadable published file {name}") from exc
        elif name.startswith("checkpoint-") and ".witness-" in name and name.endswith(".txt"):
            with open(path, encoding="utf-8") as handle:
                cosigned.append(handle.read())
    return files, cosigned


def verify_export(
    path: str,
    public_keys: list[tuple[str, Ed25519PublicKey]],
    *,
    extra_checkpoints: Sequence[str] = (),
    published_dir: str | None = None,
    witness_keys: Sequence[WitnessKey] = (),
) -> Report:
    """Verify one export file (JSON Lines or CSV) with the given trusted (name, key) pairs, against the
    checkpoints the auditor kept (`extra_checkpoints`), the operator's published checkpoint directory and the
    witnesses whose cosignature is required (`witness_keys`)."""
    reader = _read_csv if path.endswith(".csv") else _read_jsonl
    keys = {_key_hash(name, key): (name, key) for name, key in public_keys}
    records = reader(path)
    header = next(records, None)
    if (
        header is None
        or isinstance(header, bytes)
        or header.kind != "header"
        or header.data.get("format") != EXPORT_FORMAT
    ):
        raise UnusableInput(f"not a {EXPORT_FORMAT} file")
    scope = str(header.data.get("scope"))
    verifier = _Verifier(keys, header.data.get("origin"))
    verifier.witnesses = list(witness_keys)
    counted = _Counter()
    try:
        # checkpoints, published records, breaks and consistency proofs come first; entries stream after them
        consistency: list[dict[str, Any]] = []
        published: list[dict[str, Any]] = []
        cosigned: list[str] = []
        first_entry: Record | bytes | None = None
        for record in records:
            if isinstance(record, bytes) or record.kind == "entry":
                first_entry = record
                break
            if record.kind == "checkpoint":
                verifier.add_checkpoint(record.data["text"])
            elif record.kind == "consistency":
                consistency.append(record.data)
            elif record.kind == "published":
                published.append(record.data["file"])
            elif record.kind == "cosigned":
                cosigned.append(record.data["text"])
            elif record.kind == "break":
                verifier.breaks.append(record.data)
        if published_dir is not None:
            files, notes = read_published_dir(published_dir)
            published += files
            cosigned += notes
        verifier.add_published(published)
        for text in [*extra_checkpoints, *cosigned]:
            verifier.add_checkpoint(text)
        if scope != "full":
            verifier.consistency(consistency, required=True)
        stream = counted.entries(first_entry, records)
        if scope == "full":
            verifier.full(stream)
            verifier.consistency(consistency, required=False)  # implied by the roots; checked after the entries
        else:
            verifier.filtered(stream)
        if counted.end != counted.count:
            raise UnusableInput("the export is incomplete (no matching end record)")
        if verifier.breaks:
            first = verifier.breaks[0]
            raise VerificationFailed(
                str(first.get("reason", "log_break")), first.get("position"), str(first.get("detail", "")), None
            )
        for witness in verifier.witnesses:
            if witness.name not in verifier.witnessed:
                raise VerificationFailed("witness_cosignature_missing", None, f"nothing cosigned by {witness.name}")
    except VerificationFailed as exc:
        failure = {"reason": exc.reason, "position": exc.position, "detail": exc.detail, "range_end": exc.range_end}
        return Report(
            False, scope, verifier.entries, verifier.verified, len(verifier.checkpoints), 0, failure,
            verifier.published, dict(verifier.witnessed),
        )  # fmt: skip
    unanchored = verifier.entries - verifier.verified
    return Report(
        True, scope, verifier.entries, verifier.verified, len(verifier.checkpoints), unanchored, None,
        verifier.published, dict(verifier.witnessed),
    )  # fmt: skip


# --- single proofs (consistency from a saved checkpoint, inclusion of one entry) ------------------------------

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


if __name__ == "__main__":
    sys.exit(main())
