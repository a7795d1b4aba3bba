"""Pass two: stream the spill, keep the rows of released classes (of released people), write them in batches
and report the lineage."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from governance.gateway.anonymize.classes import _Footprints
from governance.gateway.anonymize.figures import ReleaseFigures
from governance.gateway.anonymize.layout import _Layout
from governance.gateway.anonymize.spill import _project, _spilled
from governance.gateway.kanon import ClassCounter
from governance.gateway.writers import open_writer


def _pass_two(
    spill_path: Sequence[Path],
    counted: list[int],
    counter: ClassCounter,
    people: _Footprints | None,
    layout: _Layout,
    path: Path,
    fmt: str,
    figures: ReleaseFigures,
    on_released_subjects: Callable[[list[uuid.UUID]], None] | None,
    on_footprints: Callable[[list[tuple[uuid.UUID, bytes]]], None] | None,
    progress: Callable[[int, str], None] | None,
    batch_rows: int,
) -> None:
    """Stream the spill, keep rows of released classes (of released people), write them in batches, report the
    lineage (and the released people's footprint digests)."""
    released = counter.released
    verdicts: dict[tuple[Any, ...], bool] = {}
    writer = open_writer(path, fmt, layout.out_columns)
    text = fmt != "parquet"
    person = 0
    try:
        batch: list[Any] = []
        for combos, subjects in _spilled(spill_path):
            keep = []
            for combo in _project(combos, counted):
                verdict = verdicts.get(combo)
                if verdict is None:
                    verdict = released(combo)
                    if len(verdicts) < 500_000:
                        verdicts[combo] = verdict
                keep.append(verdict)
            included: list[uuid.UUID] = []
            footprints: list[tuple[uuid.UUID, bytes]] = []
            for subject_bytes, idxs, rows, _values in subjects:
                digest = people.released(person) if people is not None else None
                person += 1
                if people is not None and digest is None:
                    continue
                kept = [row for at, row in zip(idxs, rows, strict=True) if keep[at]]
                if kept:
                    subject = uuid.UUID(bytes=subject_bytes)
                    included.append(subject)
                    if digest is not None:
                        footprints.append((subject, digest))
                    figures.rows_released += len(kept)
                    batch.extend(kept)
                if len(batch) >= batch_rows:
                    writer.write_encoded(batch) if text else writer.write_rows(batch)
                    batch = []
            figures.subjects_released += len(included)
            if included and on_released_subjects:
                on_released_subjects(included)
            if footprints and on_footprints:
                on_footprints(footprints)
            if progress:
                progress(figures.subjects_released, "write")
        if batch:
            writer.write_encoded(batch) if text else writer.write_rows(batch)
    finally:
        writer.close()
