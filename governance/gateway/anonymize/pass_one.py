"""Pass one: generalize, pseudonymize, measure and spill each subject's rows, in this process or in forked
partition processes."""

from __future__ import annotations

import itertools
import multiprocessing
import operator
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from governance.gateway.anonymize.collection import frozen_for_fork
from governance.gateway.anonymize.figures import ReleaseFigures
from governance.gateway.anonymize.inputs import Partitions, SubjectRecord
from governance.gateway.anonymize.layout import _Layout, _TextEncoder
from governance.gateway.anonymize.measurement import _Measurement
from governance.gateway.anonymize.spill import SpilledSubject, _write_chunk

_SPILL_BATCH = 2_000  # subjects per pickled chunk
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Shape:
    """Where a row's parts go: the head (pseudonym and profile values, once per subject) and the event part."""

    head_width: int
    head_qi: list[int]  # positions in the head kept in a row's combination
    event_qi: list[int]  # positions in the event part kept in a row's combination
    reorder: list[int] | None  # the combination's parts back into the order of `wide_positions`, if needed
    sensitive: int | None

    @classmethod
    def of(cls, layout: _Layout) -> _Shape:
        head_width = len(layout.profile_steps) + 1
        wide = layout.wide_positions
        order = sorted(range(len(wide)), key=lambda j: (wide[j] >= head_width, j))  # head parts first, then body
        return cls(
            head_width=head_width,
            head_qi=[i for i in wide if i < head_width],
            event_qi=[i - head_width for i in wide if i >= head_width],
            reorder=[order.index(j) for j in range(len(wide))] if order != sorted(order) else None,
            sensitive=layout.sensitive_position,
        )


@dataclass(slots=True)
class _Chunk:
    """Up to `_SPILL_BATCH` subjects of pass one, gathered so that their rows are encoded and combined column
    by column (in C, through `map` and `zip`) rather than value by value."""

    subjects: list[bytes] = field(default_factory=list)
    heads: list[tuple[Any, ...]] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)  # rows per subject
    bodies: list[tuple[Any, ...]] = field(default_factory=list)  # every subject's event parts, in order


def _pass_one(
    records: Iterable[SubjectRecord],
    layout: _Layout,
    pseudonymize: Callable[[uuid.UUID], str],
    measure: _Measurement | None,
    spill_path: Path,
    figures: ReleaseFigures,
    progress: Callable[[int, str], None] | None,
    fmt: str,
) -> None:
    """Generalize, pseudonymize, measure, and spill chunks of (combinations, rows per subject).

    A row's combination holds the declared quasi-identifiers and the candidate columns (so a candidate found to
    identify people can be counted afterwards without reading the source again)."""
    profile_steps = layout.profile_steps
    event_funcs = [f for _, f in layout.event_steps]
    generalized_events = any(f is not None for f in event_funcs)
    shape = _Shape.of(layout)
    encoder = _TextEncoder(fmt, [c.name for c in layout.out_columns], shape.head_width) if fmt != "parquet" else None
    chunk = _Chunk()
    with spill_path.open("wb") as spill:
        for record in records:
            figures.subjects_in += 1
            profile = record.profile
            head = (
                pseudonymize(record.subject_id),
                *(profile.get(n) if f is None else f(profile.get(n)) for n, f in profile_steps),
            )
            if not layout.per_event:
                bodies: list[tuple[Any, ...]] = [()]
            elif generalized_events:
                bodies = [
                    tuple([v if f is None else f(v) for v, f in zip(event, event_funcs, strict=True)])
                    for event in record.events
                ]
            else:  # nothing to generalize in the event part: the events as they are (as tuples)
                bodies = list(map(tuple, record.events))
            figures.rows_in += len(bodies)
            if not bodies:
                continue
            chunk.subjects.append(record.subject_id.bytes)
            chunk.heads.append(head)
            chunk.counts.append(len(bodies))
            chunk.bodies.extend(bodies)
            if len(chunk.subjects) >= _SPILL_BATCH:
                _spill_chunk(chunk, shape, encoder, measure, layout.per_event, spill)
                chunk = _Chunk()
                if progress:
                    progress(figures.subjects_in, "read")
        if chunk.subjects:
            _spill_chunk(chunk, shape, encoder, measure, layout.per_event, spill)


def _spill_chunk(
    chunk: _Chunk,
    shape: _Shape,
    encoder: _TextEncoder | None,
    measure: _Measurement | None,
    per_event: bool,
    spill: IO[bytes],
) -> None:
    """A chunk's rows (encoded, or as tuples for Parquet), their combinations and each subject's class indexes
    and sensitive values, written to the spill; each subject measured."""
    per_head = [*itertools.chain.from_iterable(map(itertools.repeat, chunk.heads, chunk.counts))]
    if encoder is None:
        rows: list[Any] = list(map(operator.add, per_head, chunk.bodies))
    elif per_event:
        rows = encoder.lines(list(map(encoder.head, chunk.heads)), chunk.counts, chunk.bodies)
    else:
        rows = [encoder.alone(encoder.head(head)) for head in chunk.heads]
    combos = _combinations(chunk, per_head, shape)
    values = None
    if shape.sensitive is not None:
        at = shape.sensitive
        values = (
            list(map(operator.itemgetter(at), per_head))
            if at < shape.head_width
            else list(map(operator.itemgetter(at - shape.head_width), chunk.bodies))
        )
    # a chunk's combinations by first appearance: a dict keeps insertion order, so its keys are the list;
    # a new combination takes the next index (len(index) is read before setdefault inserts it)
    index: dict[tuple[Any, ...], int] = {}
    add = index.setdefault
    idxs = [add(c, len(index)) for c in combos]
    subjects: list[SpilledSubject] = []
    end = 0
    for subject, head, count in zip(chunk.subjects, chunk.heads, chunk.counts, strict=True):
        start, end = end, end + count
        if measure is not None:
            measure.add(combos[start:end], head, chunk.bodies[start:end])
        subjects.append((subject, idxs[start:end], rows[start:end], values[start:end] if values is not None else None))
    _write_chunk(spill, list(index), subjects)


def _combinations(chunk: _Chunk, per_head: list[tuple[Any, ...]], shape: _Shape) -> list[tuple[Any, ...]]:
    """Each row's class combination: its head's quasi-identifier and candidate values, then its event part's."""
    head_part = operator.itemgetter(*shape.head_qi) if shape.head_qi else None
    if head_part is not None and len(shape.head_qi) == 1:
        only = shape.head_qi[0]
        head_combos = [(head[only],) for head in chunk.heads]
    else:
        head_combos = [tuple(head_part(head)) if head_part else () for head in chunk.heads]
    repeated = itertools.chain.from_iterable(map(itertools.repeat, head_combos, chunk.counts))
    if shape.event_qi:
        combos = list(map(operator.add, repeated, _event_parts(chunk.bodies, shape.event_qi)))
    else:
        combos = list(repeated)
    if shape.reorder is not None:  # back into the order of `wide_positions` (declared quasi-identifiers first)
        order = shape.reorder
        combos = [tuple([c[r] for r in order]) for c in combos]
    return combos


def _event_parts(bodies: list[tuple[Any, ...]], event_qi: list[int]) -> Iterator[tuple[Any, ...]]:
    """Each event part's values at `event_qi`, as tuples."""
    if len(event_qi) == 1:
        return zip(map(operator.itemgetter(event_qi[0]), bodies))
    return map(operator.itemgetter(*event_qi), bodies)


# what the forked children of `_pass_one_partitioned` run (set just before the fork, read in the child)
_PARTITION_JOB: dict[str, Any] = {}


def _pass_one_child(index: int) -> tuple[int, int, _Measurement | None]:
    job = _PARTITION_JOB
    partitions: Partitions = job["partitions"]
    figures = ReleaseFigures(format=job["fmt"], columns=[])
    measure = _Measurement(job["layout"], job["k"]) if job["measure"] else None
    records = partitions.sources[index]()
    _pass_one(records, job["layout"], job["pseudonymize"], measure, job["spills"][index], figures, None, job["fmt"])
    return figures.subjects_in, figures.rows_in, measure


def _after_fork(hook: Callable[[], None] | None) -> None:
    if hook is not None:
        hook()


def _pass_one_partitioned(
    partitions: Partitions,
    layout: _Layout,
    pseudonymize: Callable[[uuid.UUID], str],
    measure: _Measurement | None,
    spill_paths: list[Path],
    figures: ReleaseFigures,
    progress: Callable[[int, str], None] | None,
    fmt: str,
) -> None:
    """Pass one of each partition in a pool of forked processes (they inherit the pseudonym key, the layout and
    the string hash seed the measurement's counts are keyed by), then the per-partition counts merged.

    A partition process that dies (killed, out of memory) breaks the pool: `BrokenProcessPool` is raised, the
    other partitions are cancelled and the spills removed by the caller; the release job's retry rebuilds the
    whole release (a release is idempotent), so it finishes once."""

    _PARTITION_JOB.update(
        partitions=partitions,
        layout=layout,
        pseudonymize=pseudonymize,
        measure=measure is not None,
        k=measure.k if measure is not None else 0,
        spills=spill_paths,
        fmt=fmt,
    )
    try:
        with closing(_forked_results(partitions, _pass_one_child, len(partitions.sources))) as results:
            for subjects_in, rows_in, part in results:  # in partition order: the merged figures do not depend on timing
                figures.subjects_in += subjects_in
                figures.rows_in += rows_in
                if measure is not None and part is not None:
                    measure.merge(part)
                if progress:
                    progress(figures.subjects_in, "read")
    finally:
        _PARTITION_JOB.clear()


def _forked_results(partitions: Partitions, child: Callable[[int], _T], tasks: int) -> Generator[_T, None, None]:
    """`child(0)` to `child(tasks - 1)` in a pool of processes forked from this one (the parent's heap frozen,
    `partitions.after_fork` run first in each), their results yielded in task order. A process that dies
    breaks the pool (`BrokenProcessPool`); on any failure the tasks not yet run are cancelled."""
    with (
        frozen_for_fork(),
        ProcessPoolExecutor(
            max_workers=max(1, min(partitions.processes, tasks)),
            mp_context=multiprocessing.get_context("fork"),
            initializer=_after_fork,
            initargs=(partitions.after_fork,),
        ) as pool,
    ):
        futures = [pool.submit(child, i) for i in range(tasks)]
        try:
            for future in futures:
                yield future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
