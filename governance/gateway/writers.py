"""Streaming writers for released datasets (JSON Lines, CSV, Parquet) and the file checksum.

Rows are written in batches as they come, so memory holds one batch at most. pyarrow is imported only when a
Parquet file is written.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, Protocol

__all__ = ["FORMATS", "Column", "RowWriter", "open_writer", "sha256_file"]

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


class _JsonLinesWriter:
    def __init__(self, path: Path, columns: Sequence[Column]) -> None:
        self._names = [c.name for c in columns]
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="\n")
        self._encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        names, encode = self._names, self._encode
        self._file.write("".join(encode(dict(zip(names, row, strict=True))) + "\n" for row in rows))

    def write_encoded(self, lines: Sequence[str]) -> None:
        """Rows already encoded as lines (each ending in a newline)."""
        self._file.write("".join(lines))

    def close(self) -> None:
        self._file.close()


class _CsvWriter:
    def __init__(self, path: Path, columns: Sequence[Column]) -> None:
        self._file: IO[str] = path.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file, lineterminator="\n")
        self._csv.writerow([c.name for c in columns])

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._csv.writerows(rows)

    def write_encoded(self, lines: Sequence[str]) -> None:
        """Rows already encoded as CSV lines (each ending in a newline)."""
        self._file.write("".join(lines))

    def close(self) -> None:
        self._file.close()


class _ParquetWriter:
    def __init__(self, path: Path, columns: Sequence[Column]) -> None:
        # deferred: pyarrow stays out of web workers; only a parquet release's build needs it
        import pyarrow as pa
        import pyarrow.parquet as pq

        types = {"string": pa.string(), "integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_()}
        self._pa = pa
        self._columns = list(columns)
        self._schema = pa.schema([pa.field(c.name, types[c.type]) for c in columns])
        self._writer = pq.ParquetWriter(str(path), self._schema, compression="zstd")

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        arrays = []
        for index, column in enumerate(self._columns):
            values = [row[index] for row in rows]
            if column.type == "string":
                values = [
                    None if v is None else v if isinstance(v, str) else json.dumps(v, default=str) for v in values
                ]
            arrays.append(self._pa.array(values, type=self._schema.field(index).type))
        self._writer.write_table(self._pa.Table.from_arrays(arrays, schema=self._schema))

    def write_encoded(self, lines: Sequence[str]) -> None:
        raise TypeError("Parquet is written from rows, not encoded lines")

    def close(self) -> None:
        self._writer.close()


def open_writer(path: Path, fmt: str, columns: Sequence[Column]) -> RowWriter:
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
