"""The release pipeline, independent of the database: generalize, pseudonymize, k-anonymize, write.

Pass one reads each subject's rows once, generalizes quasi-identifiers, pseudonymizes, counts equivalence
classes and spills the prepared rows to a temporary file (so the source, typically a decrypting reader, is
read only once). Pass two streams the spill file, drops rows of classes below k (or below l), writes the
output in batches and reports which subjects ended up in the release. Memory holds one batch plus the class
counts.
"""

from __future__ import annotations

import json
import math
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
            _pass_one(records, layout, pseudonymize, counter, spill_path, figures, progress, fmt)
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
    counter: ClassCounter,
    spill_path: Path,
    figures: ReleaseFigures,
    progress: Callable[[int, str], None] | None,
    fmt: str,
) -> None:
    """Generalize, pseudonymize, count classes, and spill chunks of (class list, encoded rows per subject)."""
    profile_steps = layout.profile_steps
    event_funcs = [f for _, f in layout.event_steps]
    head_width = len(profile_steps) + 1
    head_qi = [i for i in layout.qi_positions if i < head_width]
    event_qi = [i - head_width for i in layout.qi_positions if i >= head_width]
    sensitive = layout.sensitive_position
    encoder = _TextEncoder(fmt, [c.name for c in layout.out_columns], head_width) if fmt != "parquet" else None
    combos: list[tuple[Any, ...]] = []
    index: dict[tuple[Any, ...], int] = {}
    subjects: list[tuple[bytes, list[int], list[Any]]] = []

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
            classes: dict[tuple[Any, ...], set[Any] | None] = {}
            for combo, body in zip(combos_of, bodies, strict=True):
                held = classes.get(combo)
                if held is None:
                    held = classes[combo] = set()
                if sensitive is not None:
                    held.add(head[sensitive] if sensitive < head_width else body[sensitive - head_width])
            counter.add_subject(classes)
            idxs = []
            for combo in combos_of:
                at = index.get(combo)
                if at is None:
                    at = index[combo] = len(combos)
                    combos.append(combo)
                idxs.append(at)
            subjects.append((record.subject_id.bytes, idxs, rows))
            if len(subjects) >= _SPILL_BATCH:
                flush(spill)
                combos, index, subjects = [], {}, []
                if progress:
                    progress(figures.subjects_in, "read")
        if subjects:
            flush(spill)


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
    """Stream the spill, keep rows of released classes, write them in batches, report the lineage."""
    released = counter.released
    verdicts: dict[tuple[Any, ...], bool] = {}
    writer = open_writer(path, fmt, layout.out_columns)
    text = fmt != "parquet"
    try:
        batch: list[Any] = []
        with spill_path.open("rb") as spill:
            while True:
                try:
                    combos, subjects = pickle.load(spill)  # noqa: S301 - our own temporary file, written above
                except EOFError:
                    break
                keep = []
                for combo in combos:
                    verdict = verdicts.get(combo)
                    if verdict is None:
                        verdict = released(combo)
                        if len(verdicts) < 500_000:
                            verdicts[combo] = verdict
                    keep.append(verdict)
                included: list[uuid.UUID] = []
                for subject_bytes, idxs, rows in subjects:
                    kept = [row for at, row in zip(idxs, rows, strict=True) if keep[at]]
                    if kept:
                        included.append(uuid.UUID(bytes=subject_bytes))
                        figures.rows_released += len(kept)
                        batch.extend(kept)
                    if len(batch) >= batch_rows:
                        writer.write_encoded(batch) if text else writer.write_rows(batch)
                        batch = []
                figures.subjects_released += len(included)
                if included and on_released_subjects:
                    on_released_subjects(included)
                if progress:
                    progress(figures.subjects_released, "write")
        if batch:
            writer.write_encoded(batch) if text else writer.write_rows(batch)
    finally:
        writer.close()
