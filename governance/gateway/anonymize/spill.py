"""The spill file between the two passes, in release order: per chunk, its classes part (the combinations, and per
subject its id, class indexes and sensitive values) as one pickle, then its encoded rows as a length-prefixed
pickle. The counting passes need only the classes part and seek past the rows unread; pass two reads both."""

from __future__ import annotations

import os
import pickle
import struct
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

_ROWS_LENGTH = struct.Struct("<Q")

# per subject: (subject id bytes, class index per row, sensitive value per row or None)
SubjectClasses = tuple[bytes, list[int], list[Any] | None]
# (combinations, per subject its classes)
ClassesPart = tuple[list[tuple[Any, ...]], list[SubjectClasses]]
# per subject: (subject id bytes, class index per row, encoded rows, sensitive value per row or None)
SpilledSubject = tuple[bytes, list[int], list[Any], list[Any] | None]


def _new_spill(directory: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix="gateway-release-", suffix=".spill", dir=directory)
    os.close(fd)
    return Path(name)


def _write_chunk(spill: IO[bytes], combos: list[tuple[Any, ...]], subjects: list[SpilledSubject]) -> None:
    """One chunk of pass one."""
    classes = [(subject, idxs, values) for subject, idxs, _rows, values in subjects]
    pickle.dump((combos, classes), spill, protocol=pickle.HIGHEST_PROTOCOL)
    rows = pickle.dumps([rows for _subject, _idxs, rows, _values in subjects], protocol=pickle.HIGHEST_PROTOCOL)
    spill.write(_ROWS_LENGTH.pack(len(rows)))
    spill.write(rows)


def _chunks(spill_paths: Sequence[Path], *, with_rows: bool) -> Iterator[tuple[ClassesPart, Any]]:
    for spill_path in spill_paths:
        with spill_path.open("rb") as spill:
            while True:
                try:
                    part: ClassesPart = pickle.load(spill)  # noqa: S301 - our own temp file, written in pass one  # nosec B301
                except EOFError:
                    break
                (length,) = _ROWS_LENGTH.unpack(spill.read(_ROWS_LENGTH.size))
                if with_rows:
                    yield part, pickle.loads(spill.read(length))  # noqa: S301  # nosec B301 - as above
                else:
                    spill.seek(length, os.SEEK_CUR)  # about two thirds of a chunk's unpickling: not needed
                    yield part, None


def _spilled_classes(spill_paths: Sequence[Path]) -> Iterator[ClassesPart]:
    """The classes part of every chunk of every partition, in release order (the rows left unread)."""
    for part, _rows in _chunks(spill_paths, with_rows=False):
        yield part


def _spilled(spill_paths: Sequence[Path]) -> Iterator[tuple[list[tuple[Any, ...]], list[Any]]]:
    """Every chunk of every partition, in release order: the combinations and, per subject, (subject id bytes,
    class indexes, encoded rows, sensitive values)."""
    for (combos, classes), rows in _chunks(spill_paths, with_rows=True):
        yield combos, [(s, idxs, r, values) for (s, idxs, values), r in zip(classes, rows, strict=True)]


def _project(combos: list[tuple[Any, ...]], counted: list[int]) -> list[tuple[Any, ...]]:
    return [tuple([c[i] for i in counted]) for c in combos]
