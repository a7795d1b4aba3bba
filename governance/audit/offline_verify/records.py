"""Reading exports: the records of a JSON Lines or CSV export, entry lines passed on raw when laid out as the
service writes them."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .failures import UnusableInput

_ENTRY_PREFIX = b'{"kind":"entry","leaf_hash":"'


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
