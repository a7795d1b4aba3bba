"""Writing audit exports (JSON Lines and CSV) with the proof material an auditor needs offline.

An export is: a header, the signed checkpoints, consistency proofs between consecutive checkpoints, the
entries, and an end record with the entry count (so a cut-off download is noticed). Each entry carries its
leaf hash; a *filtered* export also carries an RFC 9162 inclusion proof to one of the exported checkpoints.

In JSON Lines an entry line is laid out exactly as ``{"kind":"entry","leaf_hash":"…"[,"proof":{…}],"entry":<the
canonical entry bytes>}`` so a verifier can hash the entry bytes as they are. See docs/audit.md.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from governance.audit.canonical import canonical_bytes
from governance.audit.checkpoint import Checkpoint

__all__ = ["EXPORT_FORMAT", "ExportEntry", "ExportHeader", "csv_lines", "jsonl_lines"]

EXPORT_FORMAT = "governance-audit-export/1"
CSV_COLUMNS = (
    "kind",
    "seq",
    "time",
    "actor_kind",
    "actor_id",
    "action",
    "target_kind",
    "target_id",
    "request_id",
    "policy_version",
    "leaf_hash",
    "proof_size",
    "proof_path",
    "entry_json",
    "checkpoint",
)


@dataclass(frozen=True, slots=True)
class ExportHeader:
    origin: str
    scope: Literal["full", "filtered"]
    tree_size: int
    generated_at: str
    filters: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ExportEntry:
    entry: Mapping[str, Any]  # typed JSON form
    leaf_hash: bytes
    proof_size: int | None = None
    proof_path: Sequence[bytes] = ()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _header_dict(header: ExportHeader) -> dict[str, Any]:
    return {
        "kind": "header",
        "format": EXPORT_FORMAT,
        "origin": header.origin,
        "scope": header.scope,
        "tree_size": header.tree_size,
        "generated_at": header.generated_at,
        "filters": dict(header.filters),
    }


def jsonl_lines(
    header: ExportHeader,
    checkpoints: Sequence[Checkpoint],
    consistency: Iterable[tuple[int, int, Sequence[bytes]]],
    entries: Iterable[ExportEntry],
    records: Iterable[Mapping[str, Any]] = (),
) -> Iterator[str]:
    """The export as JSON Lines, one string per line (each ending in a newline). `records` are the
    ``published``, ``cosigned`` and ``break`` records, written after the checkpoints."""
    yield _dumps(_header_dict(header)) + "\n"
    for checkpoint in checkpoints:
        yield _dumps({"kind": "checkpoint", "size": checkpoint.size, "text": checkpoint.to_text()}) + "\n"
    for record in records:
        yield _dumps(dict(record)) + "\n"
    for old, new, path in consistency:
        yield _dumps({"kind": "consistency", "from": old, "to": new, "path": [p.hex() for p in path]}) + "\n"
    count = 0
    for item in entries:
        line = '{"kind":"entry","leaf_hash":"' + item.leaf_hash.hex() + '"'
        if item.proof_size is not None:
            proof = {"size": item.proof_size, "path": [p.hex() for p in item.proof_path]}
            line += ',"proof":' + _dumps(proof)
        line += ',"entry":' + canonical_bytes(item.entry).decode() + "}\n"
        count += 1
        yield line
    yield _dumps({"kind": "end", "entries": count}) + "\n"


def _csv_row(values: Mapping[str, Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([values.get(column, "") for column in CSV_COLUMNS])
    return buffer.getvalue()


def csv_lines(
    header: ExportHeader,
    checkpoints: Sequence[Checkpoint],
    consistency: Iterable[tuple[int, int, Sequence[bytes]]],
    entries: Iterable[ExportEntry],
    records: Iterable[Mapping[str, Any]] = (),
) -> Iterator[str]:
    """The same export as CSV: a ``kind`` column says which columns a row uses. ``entry_json`` holds the
    canonical entry (what is hashed); the other entry columns repeat it for spreadsheets. The ``published``,
    ``cosigned`` and ``break`` records keep their JSON form in ``entry_json``."""
    yield _csv_row({column: column for column in CSV_COLUMNS})
    yield _csv_row({"kind": "header", "entry_json": _dumps(_header_dict(header))})
    for checkpoint in checkpoints:
        yield _csv_row({"kind": "checkpoint", "proof_size": checkpoint.size, "checkpoint": checkpoint.to_text()})
    for record in records:
        yield _csv_row({"kind": record["kind"], "entry_json": _dumps(dict(record))})
    for old, new, path in consistency:
        yield _csv_row(
            {"kind": "consistency", "proof_size": f"{old}-{new}", "proof_path": " ".join(p.hex() for p in path)}
        )
    count = 0
    for item in entries:
        entry = item.entry
        actor = entry.get("actor") or {}
        target = entry.get("target") or {}
        yield _csv_row(
            {
                "kind": "entry",
                "seq": entry.get("seq"),
                "time": (entry.get("time") or {}).get("$time", ""),
                "actor_kind": actor.get("kind", ""),
                "actor_id": actor.get("id", ""),
                "action": entry.get("action", ""),
                "target_kind": target.get("kind", ""),
                "target_id": target.get("id", ""),
                "request_id": entry.get("request_id") or "",
                "policy_version": entry.get("policy_version") or "",
                "leaf_hash": item.leaf_hash.hex(),
                "proof_size": "" if item.proof_size is None else item.proof_size,
                "proof_path": " ".join(p.hex() for p in item.proof_path),
                "entry_json": canonical_bytes(entry).decode(),
            }
        )
        count += 1
    yield _csv_row({"kind": "end", "entry_json": _dumps({"kind": "end", "entries": count})})
