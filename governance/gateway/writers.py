"""Streaming writers for released datasets (JSON Lines, CSV, Parquet) and the file checksum.

Rows are written in batches as they come, so memory holds one batch at most. pyarrow is imported only when a
Parquet file is written.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, Protocol, TextIO

__all__ = ["FORMATS", "Column", "FileWriter", "RowWriter", "open_part_writer", "open_writer", "sha256_file"]

PARQUET_ROW_GROUP_ROWS = 10_000

Format = Literal["jsonl", "csv", "parquet"]
FORMATS: tuple[str, ...] = ("jsonl", "csv", "parquet")
ColumnType = Literal["string", "integer", "number", "boolean"]
MEDIA_TYPES = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColumnType = "string"


class RowWriter(Protocol):
    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None: ...

    def write_encoded(self, lines: Sequence[str]) -> None: ...

    def close(self) -> None: ...


class FileWriter(RowWriter, Protocol):
    def append_part(self, part: Path) -> None:
        """Appends a part file written by `open_part_writer` for the same format and columns."""
        ...


class _JsonLinesWriter:
    def __init__(self, path: Path, columns: Sequence[Column]) -> None:
        self._names = [c.name for c in columns]
        self._file: TextIO = path.open("w", encoding="utf-8", newline="\n")
        self._encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        names, encode = self._names, self._encode
        self._file.write("".join(encode(dict(zip(names, row, strict=True))) + "\n" for row in rows))

    def write_encoded(self, lines: Sequence[str]) -> None:
        """Rows already encoded as lines (each ending in a newline)."""
        self._file.write("".join(lines))

    def append_part(self, part: Path) -> None:
        _append_bytes(self._file, part)

    def close(self) -> None:
        self._file.close()


class _CsvWriter:
    def __init__(self, path: Path, columns: Sequence[Column]) -> None:
        self._file: TextIO = path.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file, lineterminator="\n")
        self._csv.writerow([c.name for c in columns])

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._csv.writerows(rows)

    def write_encoded(self, lines: Sequence[str]) -> None:
        """Rows already encoded as CSV lines (each ending in a newline)."""
        self._file.write("".join(lines))

    def append_part(self, part: Path) -> None:
        _append_bytes(self._file, part)

    def close(self) -> None:
        self._file.close()


def _append_bytes(target: TextIO, part: Path) -> None:
    """A text part's bytes after what `target` holds (its text buffer flushed first)."""
    target.flush()
    with part.open("rb") as source:
        shutil.copyfileobj(source, target.buffer, 1 << 20)


class _ParquetWriter:
    """Row groups of exactly ``row_group_rows`` rows (the last one smaller), however the rows arrive: in rows,
    in Arrow batches, or in part files of batches written by partition processes (`append_part`), so a release
    written by one process and by several is the same file byte for byte."""

    def __init__(self, path: Path, columns: Sequence[Column], row_group_rows: int = PARQUET_ROW_GROUP_ROWS) -> None:
        # deferred: pyarrow stays out of web workers; only a parquet release's build needs it
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self._batches = _ArrowBatches(columns)
        self._writer = pq.ParquetWriter(str(path), self._batches.schema, compression="zstd")
        self._row_group_rows = row_group_rows
        self._pending: list[Any] = []  # record batches not yet written, fewer than a row group's rows
        self._pending_rows = 0

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            self.write_batch(self._batches.of(rows))

    def write_batch(self, batch: Any) -> None:
        """An Arrow record batch of this writer's schema."""
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        size = self._row_group_rows
        if self._pending_rows < size:
            return
        table = self._pa.Table.from_batches(self._pending, schema=self._batches.schema)
        whole = self._pending_rows - self._pending_rows % size
        for start in range(0, whole, size):
            self._writer.write_table(table.slice(start, size), row_group_size=size)
        rest = table.slice(whole)
        self._pending = rest.to_batches() if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def write_encoded(self, lines: Sequence[str]) -> None:
        raise TypeError("Parquet is written from rows, not encoded lines")

    def append_part(self, part: Path) -> None:
        """The record batches of a part file written by `open_part_writer`, in order."""
        with self._pa.OSFile(str(part), "rb") as source, self._pa.ipc.open_stream(source) as reader:
            for batch in reader:
                self.write_batch(batch)

    def close(self) -> None:
        if self._pending_rows:
            table = self._pa.Table.from_batches(self._pending, schema=self._batches.schema)
            self._writer.write_table(table, row_group_size=self._row_group_rows)
            self._pending, self._pending_rows = [], 0
        self._writer.close()


class _ArrowBatches:
    """Rows as Arrow record batches of the release's schema (the typed columns; anything else in a string
    column as its JSON text)."""

    def __init__(self, columns: Sequence[Column]) -> None:
        # deferred: pyarrow stays out of web workers (as in _ParquetWriter)
        import pyarrow as pa

        types = {"string": pa.string(), "integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_()}
        self._pa = pa
        self._columns = list(columns)
        self.schema = pa.schema([pa.field(c.name, types[c.type]) for c in columns])

    def of(self, rows: Sequence[tuple[Any, ...]]) -> Any:
        arrays = []
        for index, column in enumerate(self._columns):
            values = [row[index] for row in rows]
            if column.type == "string":
                values = [
                    None if v is None else v if isinstance(v, str) else json.dumps(v, default=str) for v in values
                ]
            arrays.append(self._pa.array(values, type=self.schema.field(index).type))
        return self._pa.RecordBatch.from_arrays(arrays, schema=self.schema)


class _TextPart:
    """A partition's share of a JSON Lines or CSV release: its rows' encoded lines, appended to the release in
    partition order (`append_part`)."""

    def __init__(self, path: Path) -> None:
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="")

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        raise TypeError("a text part is written from encoded lines")

    def write_encoded(self, lines: Sequence[str]) -> None:
        self._file.write("".join(lines))

    def close(self) -> None:
        self._file.close()


class _ArrowPart:
    """A partition's share of a Parquet release: its rows as an Arrow IPC stream of record batches (the
    conversion from rows done in the partition's process), appended to the release in partition order."""

    def __init__(self, path: Path, columns: Sequence[Column]) -> None:
        # deferred: pyarrow stays out of web workers (as in _ParquetWriter)
        import pyarrow as pa

        self._batches = _ArrowBatches(columns)
        self._sink = pa.OSFile(str(path), "wb")
        self._writer = pa.ipc.new_stream(self._sink, self._batches.schema)

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            self._writer.write_batch(self._batches.of(rows))

    def write_encoded(self, lines: Sequence[str]) -> None:
        raise TypeError("Parquet is written from rows, not encoded lines")

    def close(self) -> None:
        self._writer.close()
        self._sink.close()


def open_part_writer(path: Path, fmt: str, columns: Sequence[Column]) -> RowWriter:
    """A writer of a partition's share of a ``fmt`` release, which `FileWriter.append_part` adds to the release."""
    if fmt in ("jsonl", "csv"):
        return _TextPart(path)
    if fmt == "parquet":
        return _ArrowPart(path, columns)
    raise ValueError(f"unknown output format {fmt!r}")


def open_writer(path: Path, fmt: str, columns: Sequence[Column]) -> FileWriter:
    """A writer of ``fmt`` at ``path``; raises ``ValueError`` for an unknown format."""
    if fmt == "jsonl":
        return _JsonLinesWriter(path, columns)
    if fmt == "csv":
        return _CsvWriter(path, columns)
    if fmt == "parquet":
        return _ParquetWriter(path, columns)
    raise ValueError(f"unknown output format {fmt!r}")


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
