"""The release pipeline, independent of the database: generalize, pseudonymize, k-anonymize, write.

Pass one reads each subject's rows once, generalizes quasi-identifiers, pseudonymizes, counts equivalence
classes and spills the prepared rows to a temporary file (so the source, typically a decrypting reader, is
read only once). Pass two streams the spill file, drops rows of classes below k (or below l), writes the
output in batches and reports which subjects ended up in the release. Memory holds one batch plus the class
counts.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from governance.gateway.generalize import Generalizer
from governance.gateway.kanon import AnonymityRequirement, ClassCounter
from governance.gateway.writers import Column, open_writer, sha256_file

__all__ = ["PSEUDONYM_COLUMN", "ReleaseFigures", "SubjectRecord", "write_release"]

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
            "k_anonymity": {
                "k_required": self.k_required,
                "k_achieved": self.k_achieved,
                "unit": "distinct subjects per quasi-identifier combination",
                "quasi_identifiers": self.quasi_identifiers,
            },
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


def write_release(
    records: Iterable[SubjectRecord],
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
    progress: Callable[[int, str], None] | None = None,
    batch_rows: int = 10_000,
    max_classes_in_memory: int = 1_000_000,
) -> ReleaseFigures:
    """Writes a k-anonymous release of ``records`` to ``path`` and returns its figures.

    The pseudonym column comes first, then ``profile_columns``, then ``event_columns``. ``on_released_subjects``
    receives, in batches, the ids of subjects with at least one released row (the lineage). Raises
    ``ValueError`` if a column is forbidden (a direct identifier), repeated, or named like the pseudonym column.
    """
    layout = _Layout.build(profile_columns, event_columns, generalizer, requirement, forbidden_columns)
    figures = ReleaseFigures(
        format=fmt,
        columns=[c.name for c in layout.out_columns],
        k_required=requirement.k,
        l_required=requirement.l,
        sensitive_attribute=requirement.sensitive,
        quasi_identifiers=layout.qi_names,
        generalization=generalizer.describe(layout.names),
    )
    fd, spill_name = tempfile.mkstemp(prefix="gateway-release-", suffix=".spill", dir=path.parent)
    os.close(fd)
    spill_path = Path(spill_name)
    try:
        with ClassCounter(requirement, max_in_memory=max_classes_in_memory) as counter:
            _pass_one(records, layout, pseudonymize, counter, spill_path, figures, progress)
            summary = counter.finish()
            figures.classes, figures.classes_released = summary.classes, summary.classes_released
            figures.k_achieved, figures.l_achieved = summary.k_achieved, summary.l_achieved
            _pass_two(spill_path, counter, layout, path, fmt, figures, on_released_subjects, progress, batch_rows)
    finally:
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

    @classmethod
    def build(
        cls,
        profile_columns: Sequence[Column],
        event_columns: Sequence[Column],
        generalizer: Generalizer,
        requirement: AnonymityRequirement,
        forbidden: frozenset[str],
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
        )


def _pass_one(
    records: Iterable[SubjectRecord],
    layout: _Layout,
    pseudonymize: Callable[[uuid.UUID], str],
    counter: ClassCounter,
    spill_path: Path,
    figures: ReleaseFigures,
    progress: Callable[[int, str], None] | None,
) -> None:
    profile_steps = layout.profile_steps
    event_funcs = [f for _, f in layout.event_steps]
    qi_positions, sensitive_position = layout.qi_positions, layout.sensitive_position
    chunk: list[tuple[bytes, list[tuple[Any, ...]]]] = []
    with spill_path.open("wb") as spill:
        for record in records:
            figures.subjects_in += 1
            profile = record.profile
            # profile values are generalized once per subject, not once per event
            head = (
                pseudonymize(record.subject_id),
                *(profile.get(n) if f is None else f(profile.get(n)) for n, f in profile_steps),
            )
            if layout.per_event:
                prepared = [
                    head + tuple([v if f is None else f(v) for v, f in zip(event, event_funcs, strict=True)])
                    for event in record.events
                ]
            else:
                prepared = [head]
            figures.rows_in += len(prepared)
            if not prepared:
                continue
            classes: dict[tuple[Any, ...], set[Any] | None] = {}
            for row in prepared:
                combo = tuple([row[i] for i in qi_positions])
                held = classes.get(combo)
                if held is None:
                    held = classes[combo] = set()
                if sensitive_position is not None:
                    held.add(row[sensitive_position])
            counter.add_subject(classes)
            chunk.append((record.subject_id.bytes, prepared))
            if len(chunk) >= _SPILL_BATCH:
                pickle.dump(chunk, spill, protocol=pickle.HIGHEST_PROTOCOL)
                chunk = []
                if progress:
                    progress(figures.subjects_in, "read")
        if chunk:
            pickle.dump(chunk, spill, protocol=pickle.HIGHEST_PROTOCOL)


def _pass_two(
    spill_path: Path,
    counter: ClassCounter,
    layout: _Layout,
    path: Path,
    fmt: str,
    figures: ReleaseFigures,
    on_released_subjects: Callable[[list[uuid.UUID]], None] | None,
    progress: Callable[[int, str], None] | None,
    batch_rows: int,
) -> None:
    released, qi_positions = counter.released, layout.qi_positions
    verdicts: dict[tuple[Any, ...], bool] = {}
    writer = open_writer(path, fmt, layout.out_columns)
    try:
        batch: list[tuple[Any, ...]] = []
        with spill_path.open("rb") as spill:
            while True:
                try:
                    chunk = pickle.load(spill)  # noqa: S301 - our own temporary file, written above
                except EOFError:
                    break
                included: list[uuid.UUID] = []
                for subject_bytes, rows in chunk:
                    kept = 0
                    for row in rows:
                        combo = tuple([row[i] for i in qi_positions])
                        verdict = verdicts.get(combo)
                        if verdict is None:
                            verdict = released(combo)
                            if len(verdicts) < 500_000:
                                verdicts[combo] = verdict
                        if verdict:
                            batch.append(row)
                            kept += 1
                    if kept:
                        included.append(uuid.UUID(bytes=subject_bytes))
                        figures.rows_released += kept
                    if len(batch) >= batch_rows:
                        writer.write_rows(batch)
                        batch = []
                figures.subjects_released += len(included)
                if included and on_released_subjects:
                    on_released_subjects(included)
                if progress:
                    progress(figures.subjects_released, "write")
        if batch:
            writer.write_rows(batch)
    finally:
        writer.close()
