"""The spill file between the two passes: chunks of (combinations, rows per subject), pickled in release order."""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any


def _new_spill(directory: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix="gateway-release-", suffix=".spill", dir=directory)
    os.close(fd)
    return Path(name)


def _spilled(spill_paths: Sequence[Path]) -> Iterator[tuple[list[tuple[Any, ...]], list[Any]]]:
    """The spilled chunks of every partition, in release order."""
    for spill_path in spill_paths:
        with spill_path.open("rb") as spill:
            while True:
                try:
                    yield pickle.load(spill)  # noqa: S301 - our own temp file, written in pass one  # nosec B301
                except EOFError:
                    break


def _project(combos: list[tuple[Any, ...]], counted: list[int]) -> list[tuple[Any, ...]]:
    return [tuple([c[i] for i in counted]) for c in combos]
