"""Pass one: generalize, pseudonymize, measure and spill each subject's rows, in this process or in forked
partition processes."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

from governance.gateway.anonymize.collection import frozen_for_fork
from governance.gateway.anonymize.figures import ReleaseFigures
from governance.gateway.anonymize.inputs import Partitions, SubjectRecord
from governance.gateway.anonymize.layout import _Layout, _TextEncoder
from governance.gateway.anonymize.measurement import _Measurement
from governance.gateway.anonymize.spill import SpilledSubject, _write_chunk

_SPILL_BATCH = 2_000  # subjects per pickled chunk
_T = TypeVar("_T")


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
    head_width = len(profile_steps) + 1
    wide = layout.wide_positions
    head_qi = [i for i in wide if i < head_width]
    event_qi = [i - head_width for i in wide if i >= head_width]
    order = sorted(range(len(wide)), key=lambda j: (wide[j] >= head_width, j))  # head parts first, then body
    reorder = [order.index(j) for j in range(len(wide))] if order != sorted(order) else None
    sensitive = layout.sensitive_position
    encoder = _TextEncoder(fmt, [c.name for c in layout.out_columns], head_width) if fmt != "parquet" else None
    combos: list[tuple[Any, ...]] = []
    index: dict[tuple[Any, ...], int] = {}
    subjects: list[SpilledSubject] = []

    def flush(spill: Any) -> None:
        _write_chunk(spill, combos, subjects)

    with spill_path.open("wb") as spill:
        for record in records:
            figures.subjects_in += 1
            profile = record.profile
            head = (
                pseudonymize(record.subject_id),
                *(profile.get(n) if f is None else f(profile.get(n)) for n, f in profile_steps),
            )
            head_combo = tuple([head[i] for i in head_qi])
            if layout.per_event:
                bodies = [
                    tuple([v if f is None else f(v) for v, f in zip(event, event_funcs, strict=True)])
                    for event in record.events
                ]
                combos_of = [head_combo + tuple([b[i] for i in event_qi]) for b in bodies]
                if encoder is not None:
                    prefix = encoder.head(head)
                    rows: list[Any] = [encoder.line(prefix, b) for b in bodies]
                else:
                    rows = [head + b for b in bodies]
            else:
                bodies = [()]
                combos_of = [head_combo]
                rows = [encoder.alone(encoder.head(head))] if encoder is not None else [head]
            figures.rows_in += len(rows)
            if not rows:
                continue
            if reorder is not None:  # back into the order of `wide` (declared quasi-identifiers first)
                combos_of = [tuple([c[r] for r in reorder]) for c in combos_of]
            values = None
            if sensitive is not None:
                values = [head[sensitive] if sensitive < head_width else b[sensitive - head_width] for b in bodies]
            if measure is not None:
                measure.add(combos_of, [head + b for b in bodies])
            idxs = []
            for combo in combos_of:
                at = index.get(combo)
                if at is None:
                    at = index[combo] = len(combos)
                    combos.append(combo)
                idxs.append(at)
            subjects.append((record.subject_id.bytes, idxs, rows, values))
            if len(subjects) >= _SPILL_BATCH:
                flush(spill)
                combos, index, subjects = [], {}, []
                if progress:
                    progress(figures.subjects_in, "read")
        if subjects:
            flush(spill)


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
