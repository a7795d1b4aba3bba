"""Pass two: stream each spill, keep the rows of released classes (of released people), write them in batches
and report the lineage; in this process, or, for a partitioned release, each partition's spill in a forked
process that writes a part file, the parts then appended to the release in partition order."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from governance.gateway.anonymize.classes import _Footprints
from governance.gateway.anonymize.figures import ReleaseFigures
from governance.gateway.anonymize.inputs import Partitions
from governance.gateway.anonymize.layout import _Layout
from governance.gateway.anonymize.pass_one import _forked_results
from governance.gateway.anonymize.spill import _project, _spilled
from governance.gateway.kanon import ClassCounter
from governance.gateway.writers import RowWriter, open_part_writer, open_writer

_VERDICTS_CACHED = 500_000  # class verdicts remembered per spill (the counter answers the rest)


@dataclass(slots=True)
class _Kept:
    """What pass two of one partition released: its row count, lineage and footprints, in spill order."""

    rows: int = 0
    included: list[uuid.UUID] = field(default_factory=list)
    footprints: list[tuple[uuid.UUID, bytes]] = field(default_factory=list)


_OnChunk = Callable[[list[uuid.UUID], list[tuple[uuid.UUID, bytes]]], None]


def _filter_spill(
    spill_path: Path,
    first_person: int,
    counted: list[int],
    counter: ClassCounter,
    people: _Footprints | None,
    writer: RowWriter,
    text: bool,
    batch_rows: int,
    on_chunk: _OnChunk,
) -> int:
    """One spill's released rows to `writer`, and how many; `on_chunk` gets each chunk's lineage and footprints.
    People are numbered from `first_person` (the spills before this one hold that many)."""
    released = counter.released
    verdicts: dict[tuple[Any, ...], bool] = {}
    write = writer.write_encoded if text else writer.write_rows
    rows_released = 0
    person = first_person
    batch: list[Any] = []
    for combos, subjects in _spilled([spill_path]):
        keep = []
        for combo in _project(combos, counted):
            verdict = verdicts.get(combo)
            if verdict is None:
                verdict = released(combo)
                if len(verdicts) < _VERDICTS_CACHED:
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
                rows_released += len(kept)
                batch.extend(kept)
            if len(batch) >= batch_rows:
                write(batch)
                batch = []
        on_chunk(included, footprints)
    if batch:
        write(batch)
    return rows_released


def _pass_two(
    spill_paths: Sequence[Path],
    spilled_people: Sequence[int],
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
    partitions: Partitions | None = None,
) -> None:
    """Stream the spills, keep rows of released classes (of released people), write them in batches, report the
    lineage (and the released people's footprint digests). With `partitions` (more than one spill), each
    spill is filtered in a forked process into a part file, and the parts are appended in spill order: the
    release is the same file, lineage and footprints as one process writes."""

    def report(included: list[uuid.UUID], footprints: list[tuple[uuid.UUID, bytes]]) -> None:
        figures.subjects_released += len(included)
        if included and on_released_subjects:
            on_released_subjects(included)
        if footprints and on_footprints:
            on_footprints(footprints)
        if progress:
            progress(figures.subjects_released, "write")

    writer = open_writer(path, fmt, layout.out_columns)
    text = fmt != "parquet"
    try:
        if partitions is None or len(spill_paths) < 2:
            for spill_path, first in zip(spill_paths, _starts(spilled_people), strict=True):
                figures.rows_released += _filter_spill(
                    spill_path, first, counted, counter, people, writer, text, batch_rows, report
                )
        else:
            job = _PassTwoJob(spill_paths, _starts(spilled_people), counted, counter, people, layout, fmt, batch_rows)
            with closing(_filter_partitioned(job, partitions)) as parts:
                for part, kept in parts:
                    writer.append_part(part)
                    part.unlink()
                    figures.rows_released += kept.rows
                    report(kept.included, kept.footprints)
    finally:
        writer.close()


def _starts(spilled_people: Sequence[int]) -> list[int]:
    starts, total = [], 0
    for spilled in spilled_people:
        starts.append(total)
        total += spilled
    return starts


@dataclass(frozen=True, slots=True)
class _PassTwoJob:
    spill_paths: Sequence[Path]
    first_people: list[int]
    counted: list[int]
    counter: ClassCounter
    people: _Footprints | None
    layout: _Layout
    fmt: str
    batch_rows: int

    def part_path(self, index: int) -> Path:
        return self.spill_paths[index].with_suffix(".part")


# what the forked children of `_filter_partitioned` run (set just before the fork, read in the child)
_PASS_TWO_JOB: list[_PassTwoJob] = []


def _pass_two_child(index: int) -> _Kept:
    job = _PASS_TWO_JOB[0]
    job.counter.reopen_after_fork()
    kept = _Kept()

    def gathered(included: list[uuid.UUID], footprints: list[tuple[uuid.UUID, bytes]]) -> None:
        kept.included.extend(included)
        kept.footprints.extend(footprints)

    writer = open_part_writer(job.part_path(index), job.fmt, job.layout.out_columns)
    try:
        kept.rows = _filter_spill(
            job.spill_paths[index],
            job.first_people[index],
            job.counted,
            job.counter,
            job.people,
            writer,
            job.fmt != "parquet",
            job.batch_rows,
            gathered,
        )
    finally:
        writer.close()
    return kept


def _filter_partitioned(job: _PassTwoJob, partitions: Partitions) -> Generator[tuple[Path, _Kept], None, None]:
    """Yields (part file, what it kept) for each spill, in spill order, each filtered in a forked process
    (which inherits the class counts and footprints). A dying process breaks the pool (`BrokenProcessPool`):
    the other parts are cancelled and every part file removed; the release job's retry rebuilds the release."""
    _PASS_TWO_JOB[:] = [job]
    try:
        with closing(_forked_results(partitions, _pass_two_child, len(job.spill_paths))) as results:
            for index, kept in enumerate(results):
                yield job.part_path(index), kept
    finally:
        _PASS_TWO_JOB.clear()
        for index in range(len(job.spill_paths)):
            job.part_path(index).unlink(missing_ok=True)
