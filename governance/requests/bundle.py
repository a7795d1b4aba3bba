"""Writing export bundles (a ZIP of `export.json` plus CSV files) and sealing them for storage.

The writer is pure I/O over the content it is given: the service collects the subject's data through the other
domains' contract functions and passes it here. Events are consumed once, as a stream.

Sealing: each bundle gets its own random 256-bit key. The ZIP is encrypted with AES-256-GCM in chunks (a
STREAM-like construction: nonce = 7-byte random prefix ‖ 32-bit chunk counter ‖ final-chunk flag, the header
and bundle id as associated data), so a chunk cannot be reordered, dropped, truncated or moved to another
bundle.
The bundle key is stored only wrapped (AES-GCM) by a key-encryption key that never lives in the database.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import struct
import tempfile
import uuid
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel

from governance.requests import bundle_index
from governance.requests import bundle_schema as schema
from governance.requests.errors import BundleIntegrityError

__all__ = [
    "CSV_COLUMNS",
    "ExportContent",
    "WrittenBundle",
    "new_bundle_key",
    "open_sealed",
    "seal",
    "unwrap_bundle_key",
    "wrap_bundle_key",
    "write_bundle",
]

CSV_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "profile.csv": ("field", "value"),
    "consent_decisions.csv": ("purpose", "decision", "notice_version", "method", "occurred_at", "receipt_id"),
    "consent_receipts.csv": ("receipt_id", "issued_at"),
    "consent_receipt_details.csv": ("receipt_id", "name", "value"),
    "events.csv": ("id", "category", "occurred_at"),
    "event_details.csv": ("event_id", "name", "value"),
    "requests.csv": ("id", "kind", "status", "received_at", "due_on", "closed_at"),
    "dataset_releases.csv": ("release_id", "purpose", "released_at", "recipient"),
    "training_jobs.csv": ("model_id", "purpose", "trained_at", "status", "flagged"),
}

_README = """\
Your data export
================
index.html       an overview to open in your web browser
export.json      everything in one machine-readable document (JSON Schema: urn:governance:export-bundle:1,
                 published in the service's documentation)
profile.csv      your profile fields, in clear
consent_*.csv    every consent decision you made, and the receipts we issued (each receipt's contents,
                 including its signature, one row per item in consent_receipt_details.csv)
events.csv       the activity events we hold; what each one recorded is in event_details.csv, one row per
                 item (names such as context.device for nested items)
requests.csv     your data subject requests, including this one
dataset_releases.csv / training_jobs.csv
                 every dataset release and every model training that included your data, with purpose and date
Cells that begin with = + - @ are prefixed with ' so that spreadsheet programs do not run them as formulas;
export.json holds the exact values.
"""


@dataclass(slots=True)
class ExportContent:
    """What goes into a bundle. Every row is a plain mapping shaped like its `bundle_schema` model."""

    generated_at: datetime
    request: Mapping[str, Any]
    subject: Mapping[str, Any]
    profile: Mapping[str, Any]
    consent_decisions: list[Mapping[str, Any]] = field(default_factory=list)
    consent_receipts: list[Mapping[str, Any]] = field(default_factory=list)
    events: Iterable[Mapping[str, Any]] = ()
    requests: list[Mapping[str, Any]] = field(default_factory=list)
    dataset_releases: list[Mapping[str, Any]] = field(default_factory=list)
    training_jobs: list[Mapping[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WrittenBundle:
    files: tuple[schema.FileEntry, ...]
    event_count: int
    size: int


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, bytes):
        raise TypeError("raw bytes cannot be exported")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot export a {type(value).__name__}")


def _dumps(value: object) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A CSV cell: JSON for structures, ISO dates, formula-looking text defused (OWASP CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        text = _dumps(value)
    elif isinstance(value, datetime | date):
        text = value.isoformat()
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


class _HashingWriter(io.RawIOBase):
    """Counts and hashes what a CSV writer emits into a zip entry."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self.sha256 = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.sha256.update(data)
        self._target.write(data)
        return len(data)


def _zipinfo(name: str, when: datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    return info


def _write_csv(
    archive: zipfile.ZipFile, name: str, rows: Iterable[Mapping[str, Any]], when: datetime
) -> schema.FileEntry:
    columns = CSV_COLUMNS[name]
    count = 0
    with archive.open(_zipinfo(name, when), "w", force_zip64=True) as raw:
        hashing = _HashingWriter(raw)
        text = io.TextIOWrapper(hashing, encoding="utf-8", newline="")  # type: ignore[type-var]
        writer = csv.writer(text)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(column)) for column in columns])
            count += 1
        text.flush()
        text.detach()
    return schema.FileEntry(name=name, rows=count, sha256=hashing.sha256.hexdigest())


def _flatten(value: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    """Nested mappings and lists as (dotted name, plain value) pairs, so no CSV cell holds JSON."""
    if isinstance(value, Mapping):
        for key in sorted(value):
            yield from _flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}.{index}" if prefix else str(index))
    else:
        yield prefix, value


def _event_json(raw: Mapping[str, Any]) -> dict[str, Any]:
    """An event in the shape of `bundle_schema.Event`, built directly: pydantic per event is too slow for the
    10,000-event target (tests validate whole documents against the schema instead)."""
    occurred = raw.get("occurred_at")
    data = raw.get("data")
    if not isinstance(data, Mapping):
        raise TypeError("event data must be a mapping")
    return {
        "id": str(raw["id"]),
        "category": str(raw["category"]),
        "occurred_at": occurred.isoformat() if isinstance(occurred, datetime) else occurred,
        "data": dict(data),
    }


def _validated(model: type[BaseModel], rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [model.model_validate(dict(row)).model_dump(mode="json") for row in rows]


def write_bundle(content: ExportContent, out: IO[bytes]) -> WrittenBundle:
    """Write the ZIP to `out`. Rows are validated against the schema (raises pydantic's ValidationError)."""
    when = content.generated_at
    files: list[schema.FileEntry] = []
    request = schema.BundleRequest.model_validate(dict(content.request)).model_dump(mode="json")
    subject = schema.BundleSubject.model_validate(dict(content.subject)).model_dump(mode="json")
    sections = {
        "consent_decisions": _validated(schema.ConsentDecision, content.consent_decisions),
        "consent_receipts": _validated(schema.ConsentReceipt, content.consent_receipts),
        "requests": _validated(schema.RequestRecord, content.requests),
        "dataset_releases": _validated(schema.DatasetRelease, content.dataset_releases),
        "training_jobs": _validated(schema.TrainingJob, content.training_jobs),
    }
    profile = json.loads(_dumps(dict(content.profile)))
    start = out.tell() if out.seekable() else 0
    with (
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+b") as event_json,
        tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+b") as details,
    ):
        archive.writestr(_zipinfo("README.txt", when), _README)
        files.append(_write_csv(archive, "profile.csv", ({"field": k, "value": v} for k, v in profile.items()), when))
        event_count = 0

        def events_once() -> Iterable[dict[str, Any]]:
            # one pass: each event goes to events.csv now, its details to a spool for event_details.csv and the
            # whole event to a spool for export.json
            nonlocal event_count
            for raw_event in content.events:
                event = _event_json(raw_event)
                event_json.write((b"," if event_count else b"") + _dumps(event).encode())
                for name, value in _flatten(event["data"]):
                    details.write(_dumps([event["id"], name, value]).encode() + b"\n")
                event_count += 1
                yield event

        def spooled_details() -> Iterable[dict[str, Any]]:
            details.seek(0)
            for line in details:
                event_id, name, value = json.loads(line)
                yield {"event_id": event_id, "name": name, "value": value}

        receipt_details = (
            {"receipt_id": r["receipt_id"], "name": name, "value": value}
            for r in sections["consent_receipts"]
            for name, value in _flatten(r["content"])
        )
        for name, rows in (
            ("consent_decisions.csv", sections["consent_decisions"]),
            ("consent_receipts.csv", sections["consent_receipts"]),
            ("consent_receipt_details.csv", receipt_details),
            ("events.csv", events_once()),
            ("event_details.csv", spooled_details()),
            ("requests.csv", sections["requests"]),
            ("dataset_releases.csv", sections["dataset_releases"]),
            ("training_jobs.csv", sections["training_jobs"]),
        ):
            files.append(_write_csv(archive, name, rows, when))
        archive.writestr(_zipinfo("index.html", when), bundle_index.render(when, profile, sections, event_count))

        head = {
            "$schema": schema.SCHEMA_ID,
            "generated_at": when.isoformat(),
            "request": request,
            "subject": subject,
            "profile": profile,
            **sections,
            "files": [entry.model_dump() for entry in files],
        }
        with archive.open(_zipinfo("export.json", when), "w", force_zip64=True) as document:
            # keys are written in a fixed order with the (large) events array streamed in from the spool
            document.write(_dumps(head)[:-1].encode() + b',"events":[')
            event_json.seek(0)
            shutil.copyfileobj(event_json, document)
            document.write(b"]}")
    end = out.tell() if out.seekable() else 0
    return WrittenBundle(files=tuple(files), event_count=event_count, size=end - start)


# --- sealing ------------------------------------------------------------------------------------------------

_MAGIC = b"GVBUNDLE1"
_HEADER = struct.Struct(">9sI7s")  # magic, chunk size, nonce prefix
_CHUNK = 1024 * 1024
_LEN = struct.Struct(">I")


def new_bundle_key() -> bytes:
    """A fresh random AES-256 key for one bundle."""
    return AESGCM.generate_key(bit_length=256)


def _nonce(prefix: bytes, counter: int, final: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if final else 0)


def seal(src: IO[bytes], dst: IO[bytes], key: bytes, bundle_id: uuid.UUID, *, chunk_size: int = _CHUNK) -> int:
    """Encrypt `src` into `dst`; returns the number of bytes written."""
    aead = AESGCM(key)
    header = _HEADER.pack(_MAGIC, chunk_size, os.urandom(7))
    aad = header + bundle_id.bytes
    written = dst.write(header)
    counter = 0
    chunk = src.read(chunk_size)
    while True:
        following = src.read(chunk_size)
        final = not following
        sealed = aead.encrypt(_nonce(header[-7:], counter, final), chunk, aad)
        written += dst.write(_LEN.pack(len(sealed)) + sealed)
        if final:
            return written
        counter += 1
        if counter >= 2**32:
            raise ValueError("bundle too large")
        chunk = following


def open_sealed(src: IO[bytes], dst: IO[bytes], key: bytes, bundle_id: uuid.UUID) -> int:
    """Decrypt a sealed bundle into `dst`; `BundleIntegrityError` on tampering, truncation or a wrong key."""
    header = src.read(_HEADER.size)
    if len(header) != _HEADER.size:
        raise BundleIntegrityError()
    magic, chunk_size, prefix = _HEADER.unpack(header)
    if magic != _MAGIC or not 0 < chunk_size <= 64 * 1024 * 1024:
        raise BundleIntegrityError()
    aead, aad = AESGCM(key), header + bundle_id.bytes
    counter, written = 0, 0
    while True:
        length_bytes = src.read(_LEN.size)
        if len(length_bytes) != _LEN.size:
            raise BundleIntegrityError()  # truncated before the final chunk
        (length,) = _LEN.unpack(length_bytes)
        if length > chunk_size + 16:
            raise BundleIntegrityError()
        sealed = src.read(length)
        final = src.peek(1) == b"" if hasattr(src, "peek") else _at_end(src)
        try:
            plain = aead.decrypt(_nonce(prefix, counter, final), sealed, aad)
        except InvalidTag as exc:
            raise BundleIntegrityError() from exc
        written += dst.write(plain)
        if final:
            return written
        counter += 1


def _at_end(src: IO[bytes]) -> bool:
    position = src.tell()
    at_end = src.read(1) == b""
    src.seek(position)
    return at_end


def wrap_bundle_key(kek: bytes, bundle_key: bytes, bundle_id: uuid.UUID) -> bytes:
    """The bundle key encrypted under the key-encryption key, bound to the bundle id."""
    nonce = os.urandom(12)
    return nonce + AESGCM(kek).encrypt(nonce, bundle_key, b"bundle-key:" + bundle_id.bytes)


def unwrap_bundle_key(kek: bytes, wrapped: bytes, bundle_id: uuid.UUID) -> bytes:
    try:
        return AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], b"bundle-key:" + bundle_id.bytes)
    except InvalidTag as exc:
        raise BundleIntegrityError() from exc
