"""The release pipeline, independent of the database: generalize, pseudonymize, k-anonymize, write.

Pass one reads each subject's rows once, generalizes quasi-identifiers, pseudonymizes, counts equivalence
classes and spills the prepared rows to a temporary file (so the source, typically a decrypting reader, is
read only once). Pass two streams the spill file, drops rows of classes below k (or below l), writes the
output in batches and reports which subjects ended up in the release. Memory holds one batch plus the class
counts.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import secrets
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from governance.gateway.generalize import Generalizer
from governance.gateway.kanon import AnonymityRequirement, ClassCounter
from governance.gateway.writers import Column, open_writer, sha256_file

__all__ = [
    "PSEUDONYM_COLUMN",
    "IdentifyingFieldError",
    "Partitions",
    "PersonLevel",
    "ReleaseFigures",
    "SubjectRecord",
    "write_release",
]

PSEUDONYM_COLUMN = "subject"
_SPILL_BATCH = 2_000  # subjects per pickled chunk


@dataclass(frozen=True, slots=True)
class SubjectRecord:
    """One subject's minimized data: profile values (column to raw value) and event rows (raw values in the
    order of the event columns).

    A release with event columns has one row per event (profile values repeated); without, one row per subject.
    """

    subject_id: uuid.UUID
    profile: Mapping[str, Any]
    events: Sequence[Sequence[Any]] = ()


@dataclass(slots=True)
class ReleaseFigures:
    """What the manifest reports about one written release."""

    format: str
    columns: list[str]
    rows_in: int = 0
    rows_released: int = 0
    rows_suppressed: int = 0
    subjects_in: int = 0
    subjects_released: int = 0
    k_required: int = 0
    k_achieved: int | None = None
    l_required: int | None = None
    l_achieved: int | None = None
    sensitive_attribute: str | None = None
    classes: int = 0
    classes_released: int = 0
    quasi_identifiers: list[str] = field(default_factory=list)
    generalization: dict[str, dict[str, Any]] = field(default_factory=dict)
    checksum_sha256: str = ""
    bytes: int = 0
    k_unit: str = "row_class"
    row_class_k_achieved: int | None = None
    quasi_identifiers_found: list[str] = field(default_factory=list)
    identifying_power: dict[str, Any] | None = None
    footprints: int | None = None
    footprints_released: int | None = None
    joint_prior_subjects: int = 0

    def as_manifest(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "columns": self.columns,
            "counts": {
                "rows_in": self.rows_in,
                "rows_released": self.rows_released,
                "rows_suppressed": self.rows_suppressed,
                "subjects_in": self.subjects_in,
                "subjects_released": self.subjects_released,
                "classes": self.classes,
                "classes_released": self.classes_released,
            },
            "k_anonymity": self._k_manifest(),
            "identifying_power": self.identifying_power,
            "l_diversity": None
            if self.l_required is None
            else {
                "attribute": self.sensitive_attribute,
                "l_required": self.l_required,
                "l_achieved": self.l_achieved,
            },
            "generalization": self.generalization,
            "checksum_sha256": self.checksum_sha256,
            "bytes": self.bytes,
        }

    def _k_manifest(self) -> dict[str, Any]:
        if self.k_unit != "person":
            return {
                "k_required": self.k_required,
                "k_achieved": self.k_achieved,
                "unit": "distinct subjects per quasi-identifier combination",
                "quasi_identifiers": self.quasi_identifiers,
            }
        return {
            "k_required": self.k_required,
            "k_achieved": self.k_achieved,
            "unit": "person",
            "footprint": "the set of a person's generalized quasi-identifier combinations over all their released "
            "rows (profile and event quasi-identifiers together), joined with their footprints in earlier "
            "releases this one can be joined with",
            "quasi_identifiers": self.quasi_identifiers,
            "quasi_identifiers_found_in_data": self.quasi_identifiers_found,
            "footprints": self.footprints,
            "footprints_released": self.footprints_released,
            "people_suppressed": self.subjects_in - self.subjects_released,
            "row_class_k_achieved": self.row_class_k_achieved,
            "people_in_earlier_joinable_releases": self.joint_prior_subjects,
        }


@dataclass(frozen=True, slots=True)
class PersonLevel:
    """Options of k per person (mode pseudonymized_rows): the identifying-power check of released fields and the
    footprints of earlier releases this one is measured together with.

    ``candidates``: released columns that are not declared quasi-identifiers but may act as one (profile fields,
    event category and context keys); each is measured on the population and, beyond the thresholds, counted
    as a quasi-identifier (or the release is refused). ``content``: columns measured and reported but never
    counted (items, values: what the person did; the release is personal data because of them).
    ``prior``: per subject, the joint footprint key of the earlier joinable releases (absent: not in them).
    """

    candidates: Sequence[str] = ()
    content: Sequence[str] = ()
    max_conditional_entropy_bits: float = 1.0
    max_newly_singled_out_fraction: float = 0.0
    refuse_identifying: bool = False
    prior: Mapping[uuid.UUID, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Partitions:
    """The release's subjects split by range into partitions, pass one of each run in its own process.

    ``sources[i]()`` yields partition i's records (it opens its own database sessions); partitions are
    contiguous ranges of the subjects in release order, so their spills read back in order are exactly the
    single-process spill and the released file is byte for byte the same. Pass one of a partition (read and
    decrypt, generalize, pseudonymize, encode, identifying-power counts) is self-contained: its per-partition
    counts are merged (sums: subjects are disjoint), then class counting, footprints and pass two run over
    the partitions' spills. ``after_fork`` runs first in each child (drop the inherited database connections).
    """

    sources: Sequence[Callable[[], Iterable[SubjectRecord]]]
    processes: int
    after_fork: Callable[[], None] | None = None


class IdentifyingFieldError(ValueError):
    """A released field narrows people down beyond the policy's threshold and the policy says to refuse."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__(f"fields identify people beyond the policy threshold: {', '.join(fields)}")
        self.fields = fields


def write_release(
    records: Iterable[SubjectRecord] | Partitions,
    *,
    profile_columns: Sequence[Column],
    event_columns: Sequence[Column] = (),
    generalizer: Generalizer,
    requirement: AnonymityRequirement,
    pseudonymize: Callable[[uuid.UUID], str],
    path: Path,
    fmt: str,
    forbidden_columns: frozenset[str] = frozenset(),
    on_released_subjects: Callable[[list[uuid.UUID]], None] | None = None,
    on_footprints: Callable[[list[tuple[uuid.UUID, bytes]]], None] | None = None,
    progress: Callable[[int, str], None] | None = None,
    batch_rows: int = 10_000,
    max_classes_in_memory: int = 1_000_000,
    person_level: PersonLevel | None = None,
) -> ReleaseFigures:
    """Writes a k-anonymous release of ``records`` to ``path`` and returns its figures.

    The pseudonym column comes first, then ``profile_columns``, then ``event_columns``. ``on_released_subjects``
    receives, in batches, the ids of subjects with at least one released row (the lineage). Without
    ``person_level``, k holds per row class (distinct subjects per quasi-identifier combination). With it, k
    holds per person: every released person's footprint (the set of their released quasi-identifier
    combinations, joined with their footprints in ``person_level.prior``) is shared by at least k released
    people, and ``on_footprints`` receives each released person's footprint digest. Raises ``ValueError`` if
    a column is forbidden (a direct identifier), repeated, or named like the pseudonym column, and
    ``IdentifyingFieldError`` when the policy refuses identifying fields.
    """
    layout = _Layout.build(profile_columns, event_columns, generalizer, requirement, forbidden_columns, person_level)
    figures = ReleaseFigures(
        format=fmt,
        columns=[c.name for c in layout.out_columns],
        k_required=requirement.k,
        l_required=requirement.l,
        sensitive_attribute=requirement.sensitive,
        quasi_identifiers=layout.qi_names,
        generalization=generalizer.describe(layout.names),
        k_unit="person" if person_level is not None else "row_class",
    )
    parts = len(records.sources) if isinstance(records, Partitions) else 1
    spill_paths = [_new_spill(path.parent) for _ in range(parts)]
    try:
        measure = _Measurement(layout, requirement.k) if person_level is not None else None
        if isinstance(records, Partitions):
            _pass_one_partitioned(records, layout, pseudonymize, measure, spill_paths, figures, progress, fmt)
        else:
            _pass_one(records, layout, pseudonymize, measure, spill_paths[0], figures, progress, fmt)
        counted = list(range(len(layout.qi_names)))
        if measure is not None and person_level is not None:
            figures.identifying_power, flagged = measure.report(person_level)
            if flagged and person_level.refuse_identifying:
                raise IdentifyingFieldError(flagged)
            figures.quasi_identifiers_found = flagged
            figures.quasi_identifiers = layout.qi_names + flagged
            counted += [len(layout.qi_names) + layout.candidate_names.index(n) for n in flagged]
        with ClassCounter(requirement, max_in_memory=max_classes_in_memory) as counter:
            _count_classes(spill_paths, counted, counter)
            summary = counter.finish()
            figures.classes, figures.classes_released = summary.classes, summary.classes_released
            figures.k_achieved, figures.l_achieved = summary.k_achieved, summary.l_achieved
            figures.row_class_k_achieved = summary.k_achieved
            people = None
            if person_level is not None:
                people = _Footprints(requirement, person_level.prior)
                _measure_people(spill_paths, counted, counter, people)
                figures.k_achieved, figures.l_achieved = people.k_achieved(), people.l_achieved()
                figures.footprints, figures.footprints_released = people.groups(), people.groups_released()
                figures.joint_prior_subjects = sum(1 for _ in person_level.prior)
            _pass_two(
                spill_paths,
                counted,
                counter,
                people,
                layout,
                path,
                fmt,
                figures,
                on_released_subjects,
                on_footprints,
                progress,
                batch_rows,
            )
    finally:
        for spill_path in spill_paths:
            spill_path.unlink(missing_ok=True)
    figures.rows_suppressed = figures.rows_in - figures.rows_released
    figures.checksum_sha256 = sha256_file(path)
    figures.bytes = path.stat().st_size
    return figures


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where each column sits in an output row and how it is generalized."""

    names: list[str]
    out_columns: list[Column]
    qi_names: list[str]
    profile_steps: list[tuple[str, Callable[[Any], Any] | None]]
    event_steps: list[tuple[str, Callable[[Any], Any] | None]]
    qi_positions: list[int]  # positions in the output row (the pseudonym is position 0)
    sensitive_position: int | None
    per_event: bool
    candidate_names: list[str] = field(default_factory=list)
    candidate_positions: list[int] = field(default_factory=list)
    content_names: list[str] = field(default_factory=list)
    content_positions: list[int] = field(default_factory=list)

    @property
    def wide_positions(self) -> list[int]:
        """Positions kept in a row's class combination: declared quasi-identifiers, then candidates."""
        return self.qi_positions + self.candidate_positions

    @classmethod
    def build(
        cls,
        profile_columns: Sequence[Column],
        event_columns: Sequence[Column],
        generalizer: Generalizer,
        requirement: AnonymityRequirement,
        forbidden: frozenset[str],
        person_level: PersonLevel | None = None,
    ) -> _Layout:
        columns = [*profile_columns, *event_columns]
        names = [c.name for c in columns]
        refused = sorted((set(names) & forbidden) | ({PSEUDONYM_COLUMN} & set(names)))
        refused += sorted({n for n in names if names.count(n) > 1})
        if refused:
            raise ValueError(f"columns not releasable: {', '.join(refused)}")
        if requirement.sensitive is not None and requirement.sensitive not in names:
            raise ValueError(f"sensitive attribute {requirement.sensitive!r} is not among the released columns")
        qi_names = generalizer.quasi_identifiers(names)
        functions = generalizer.functions(names)
        steps = list(zip(names, functions, strict=True))
        skip = {*qi_names, requirement.sensitive}
        candidates = [n for n in (person_level.candidates if person_level else ()) if n in names and n not in skip]
        content = [n for n in (person_level.content if person_level else ()) if n in names and n not in skip]
        return cls(
            names=names,
            out_columns=[
                Column(PSEUDONYM_COLUMN),
                *(Column(c.name, "string") if c.name in qi_names else c for c in columns),
            ],
            qi_names=qi_names,
            profile_steps=steps[: len(profile_columns)],
            event_steps=steps[len(profile_columns) :],
            qi_positions=[i + 1 for i, n in enumerate(names) if n in qi_names],
            sensitive_position=names.index(requirement.sensitive) + 1 if requirement.sensitive else None,
            per_event=bool(event_columns),
            candidate_names=candidates,
            candidate_positions=[names.index(n) + 1 for n in candidates],
            content_names=content,
            content_positions=[names.index(n) + 1 for n in content],
        )


class _TextEncoder:
    """Encodes rows of JSON Lines or CSV as text once, in pass one: the pseudonym and profile part once per
    subject, the event part per event; repeated values (generalized ones mostly) are encoded once."""

    def __init__(self, fmt: str, names: list[str], head_width: int) -> None:
        self._json = fmt == "jsonl"
        self._cache: dict[str, str] = {}
        keys = [json.dumps(n, ensure_ascii=False) + ":" for n in names]
        self._head_keys = ["{" + keys[0], *("," + k for k in keys[1:head_width])]
        self._tail_keys = ["," + k for k in keys[head_width:]]
        self._end = "}\n" if self._json else "\n"

    def _value(self, value: Any) -> str:
        kind = type(value)
        if kind is str:
            cached = self._cache.get(value)
            if cached is None:
                cached = self._encode_str(value)
                if len(self._cache) < 200_000:
                    self._cache[value] = cached
            return cached
        if value is None:
            return "null" if self._json else ""
        if kind is float:
            return repr(value) if math.isfinite(value) else ("null" if self._json else "")
        if kind is bool:
            return ("true" if value else "false") if self._json else str(value)
        if kind is int:
            return str(value)
        return self._encode_str(value if isinstance(value, str) else json.dumps(value, default=str))

    def _encode_str(self, text: str) -> str:
        if self._json:
            return json.dumps(text, ensure_ascii=False)
        if any(c in text for c in ',"\r\n'):
            return '"' + text.replace('"', '""') + '"'
        return text

    def head(self, values: tuple[Any, ...]) -> str:
        if self._json:
            return "".join([k + self._value(v) for k, v in zip(self._head_keys, values, strict=True)])
        return ",".join([self._value(v) for v in values])

    def line(self, head: str, values: tuple[Any, ...]) -> str:
        if self._json:
            return head + "".join([k + self._value(v) for k, v in zip(self._tail_keys, values, strict=True)]) + "}\n"
        return head + "".join(["," + self._value(v) for v in values]) + "\n"

    def alone(self, head: str) -> str:
        return head + self._end


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
    subjects: list[tuple[bytes, list[int], list[Any], list[Any] | None]] = []

    def flush(spill: Any) -> None:
        pickle.dump((combos, subjects), spill, protocol=pickle.HIGHEST_PROTOCOL)

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


def _new_spill(directory: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix="gateway-release-", suffix=".spill", dir=directory)
    os.close(fd)
    return Path(name)


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
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

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
        with ProcessPoolExecutor(
            max_workers=max(1, min(partitions.processes, len(partitions.sources))),
            mp_context=multiprocessing.get_context("fork"),
            initializer=_after_fork,
            initargs=(partitions.after_fork,),
        ) as pool:
            futures = [pool.submit(_pass_one_child, i) for i in range(len(partitions.sources))]
            try:
                for future in futures:  # in partition order: the merged figures do not depend on timing
                    subjects_in, rows_in, part = future.result()
                    figures.subjects_in += subjects_in
                    figures.rows_in += rows_in
                    if measure is not None and part is not None:
                        measure.merge(part)
                    if progress:
                        progress(figures.subjects_in, "read")
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    finally:
        _PARTITION_JOB.clear()


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


def _count_classes(spill_path: Sequence[Path], counted: list[int], counter: ClassCounter) -> None:
    """Row classes over the counted quasi-identifiers: distinct subjects (and sensitive values) per class."""
    for combos, subjects in _spilled(spill_path):
        projected = _project(combos, counted)
        for _subject, idxs, _rows, values in subjects:
            classes: dict[tuple[Any, ...], set[Any] | None] = {}
            for n, at in enumerate(idxs):
                held = classes.get(projected[at])
                if held is None:
                    held = classes[projected[at]] = set()
                if values is not None:
                    held.add(values[n])
            counter.add_subject(classes)


class _Measurement:
    """Identifying power of released fields on the population, person by person: for each measured column, how
    many people end up in groups smaller than k once the column's values (the set of a person's values) join
    their declared quasi-identifier footprint, and the entropy of the column given that footprint."""

    def __init__(self, layout: _Layout, k: int) -> None:
        self.k = k
        self.people = 0
        self.declared = len(layout.qi_names)
        self.names = layout.candidate_names + layout.content_names
        self.kinds = ["candidate"] * len(layout.candidate_names) + ["content"] * len(layout.content_names)
        self.positions = layout.candidate_positions + layout.content_positions
        self.base: dict[int, int] = {}
        self.joint: list[dict[tuple[int, int], int]] = [{} for _ in self.names]
        self.values: list[dict[int, int]] = [{} for _ in self.names]

    def add(self, combos: list[tuple[Any, ...]], rows: list[tuple[Any, ...]]) -> None:
        self.people += 1
        footprint = hash(frozenset([c[: self.declared] for c in combos]))
        self.base[footprint] = self.base.get(footprint, 0) + 1
        for j, position in enumerate(self.positions):
            value = hash(frozenset([r[position] for r in rows]))
            pair = (footprint, value)
            self.joint[j][pair] = self.joint[j].get(pair, 0) + 1
            self.values[j][value] = self.values[j].get(value, 0) + 1

    def merge(self, other: _Measurement) -> None:
        """Adds another partition's counts (its people are disjoint from these)."""
        self.people += other.people
        for footprint, count in other.base.items():
            self.base[footprint] = self.base.get(footprint, 0) + count
        for mine, theirs in zip(self.joint, other.joint, strict=True):
            for pair, count in theirs.items():
                mine[pair] = mine.get(pair, 0) + count
        for mine_values, their_values in zip(self.values, other.values, strict=True):
            for value, count in their_values.items():
                mine_values[value] = mine_values.get(value, 0) + count

    def report(self, options: PersonLevel) -> tuple[dict[str, Any], list[str]]:
        n, k = self.people, self.k
        below = sum(c for c in self.base.values() if c < k)
        fields: dict[str, Any] = {}
        flagged = []
        for j, name in enumerate(self.names):
            with_field = sum(c for c in self.joint[j].values() if c < k)
            entropy = -sum(c / n * math.log2(c / n) for c in self.values[j].values()) if n else 0.0
            conditional = 0.0
            for (footprint, _value), c in self.joint[j].items():
                conditional += c / n * math.log2(self.base[footprint] / c)
            newly = with_field - below
            identifying = self.kinds[j] == "candidate" and (
                (n and newly / n > options.max_newly_singled_out_fraction)
                or conditional > options.max_conditional_entropy_bits
            )
            fields[name] = {
                "kind": self.kinds[j],
                "distinct_values": len(self.values[j]),
                "entropy_bits": round(entropy, 4),
                "conditional_entropy_bits": round(abs(conditional), 4),
                "people_below_k_with_field": with_field,
                "people_newly_below_k": newly,
                "counted_as_quasi_identifier": bool(identifying),
            }
            if identifying:
                flagged.append(name)
        report = {
            "method": "per person over the release's population before suppression: a field's value is the set "
            "of the person's values; 'below k' = in a group of fewer than k people sharing the declared "
            "quasi-identifier footprint and the field's value; conditional entropy H(field | declared footprint)",
            "people": n,
            "k": k,
            "people_below_k_on_declared_quasi_identifiers": below,
            "thresholds": {
                "max_newly_singled_out_fraction": options.max_newly_singled_out_fraction,
                "max_conditional_entropy_bits": options.max_conditional_entropy_bits,
                "action": "refuse" if options.refuse_identifying else "count_as_quasi_identifier",
            },
            "content_note": "content fields (what a person did) are measured and reported, never counted: k does "
            "not cover them, which is why a row-level release is pseudonymized personal data",
            "fields": fields,
        }
        return report, flagged


class _Footprints:
    """k per person: counts people per footprint (their set of released row classes, joined with their
    footprints in earlier joinable releases) and decides which people are released."""

    def __init__(self, requirement: AnonymityRequirement, prior: Mapping[uuid.UUID, bytes]) -> None:
        self.k, self.l_cap = requirement.k, requirement.l or 0
        self.prior = prior
        self._key = secrets.token_bytes(32)  # digests are comparable within this release only; never stored
        self.counts: dict[bytes, int] = {}
        self.values: dict[bytes, set[int]] = {}
        self.keys: list[bytes | None] = []
        self.digests: list[bytes | None] = []

    def add(self, subject: uuid.UUID, classes: set[str], values: frozenset[Any] | None) -> None:
        """One person: ``classes`` are their released row classes, each as `_class_text`."""
        if not classes:
            self.keys.append(None)
            self.digests.append(None)
            return
        text = "\n".join(sorted(classes))
        digest = hashlib.blake2b(text.encode(), key=self._key, digest_size=16).digest()
        group = self.prior.get(subject, b"") + b"|" + digest
        self.keys.append(group)
        self.digests.append(digest)
        self.counts[group] = self.counts.get(group, 0) + 1
        if self.l_cap and values is not None:
            held = self.values.setdefault(group, set())
            if len(held) < self.l_cap:
                held.add(hash(values))

    def _released(self, group: bytes) -> bool:
        if self.counts[group] < self.k:
            return False
        return not self.l_cap or len(self.values.get(group, ())) >= self.l_cap

    def released(self, at: int) -> bytes | None:
        """The footprint digest of the `at`-th person in spill order if they are released, else None."""
        group = self.keys[at]
        return self.digests[at] if group is not None and self._released(group) else None

    def groups(self) -> int:
        return len(self.counts)

    def groups_released(self) -> int:
        return sum(1 for g in self.counts if self._released(g))

    def k_achieved(self) -> int | None:
        return min((c for g, c in self.counts.items() if self._released(g)), default=None)

    def l_achieved(self) -> int | None:
        if not self.l_cap:
            return None
        return min((len(self.values.get(g, ())) for g in self.counts if self._released(g)), default=None)


def _measure_people(spill_path: Sequence[Path], counted: list[int], counter: ClassCounter, people: _Footprints) -> None:
    """Each person's footprint over the rows that survive row-class suppression."""
    for combos, subjects in _spilled(spill_path):
        projected = _project(combos, counted)
        verdicts = [counter.released(c) for c in projected]
        # a chunk's people share most classes: each class is encoded once per chunk, not once per person
        texts = [_class_text(c) if verdict else "" for c, verdict in zip(projected, verdicts, strict=True)]
        for subject_bytes, idxs, _rows, values in subjects:
            kept = [n for n, at in enumerate(idxs) if verdicts[at]]
            sensitive = frozenset(values[n] for n in kept) if values is not None else None
            people.add(uuid.UUID(bytes=subject_bytes), {texts[idxs[n]] for n in kept}, sensitive)


def _class_text(combo: tuple[Any, ...]) -> str:
    """A row class as the text a footprint digest is made of."""
    return json.dumps(combo, default=str, separators=(",", ":"))


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
