"""Verifying one export file: the report, and the order of the checks (the records before the entries first,
then the entries as they stream)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .export_checks import _Verifier
from .failures import UnusableInput, VerificationFailed
from .notes import WitnessKey, _key_hash
from .records import Record, _read_csv, _read_jsonl

EXPORT_FORMAT = "governance-audit-export/1"


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
        first_entry, consistency, published, cosigned = _read_preamble(records, verifier)
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


def _read_preamble(
    records: Iterator[Record | bytes], verifier: _Verifier
) -> tuple[Record | bytes | None, list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """The records before the first entry: checkpoints (checked at once), breaks, and the consistency proofs,
    published files and cosigned notes (checked once all are read). Returns them with the first entry."""
    # checkpoints, published records, breaks and consistency proofs come first; entries stream after them
    consistency: list[dict[str, Any]] = []
    published: list[dict[str, Any]] = []
    cosigned: list[str] = []
    for record in records:
        if isinstance(record, bytes) or record.kind == "entry":
            return record, consistency, published, cosigned
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
    return None, consistency, published, cosigned
