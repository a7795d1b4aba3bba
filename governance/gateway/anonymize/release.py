"""Writing a release: pass one (in one process or in partitions), the row classes (and footprints), pass two."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from governance.gateway.anonymize.classes import _count_classes, _Footprints, _measure_people
from governance.gateway.anonymize.collection import fewer_collections
from governance.gateway.anonymize.figures import ReleaseFigures
from governance.gateway.anonymize.inputs import IdentifyingFieldError, Partitions, PersonLevel, SubjectRecord
from governance.gateway.anonymize.layout import _Layout
from governance.gateway.anonymize.measurement import _Measurement
from governance.gateway.anonymize.pass_one import _pass_one, _pass_one_partitioned
from governance.gateway.anonymize.pass_two import _pass_two
from governance.gateway.anonymize.spill import _new_spill
from governance.gateway.generalize import Generalizer
from governance.gateway.kanon import AnonymityRequirement, ClassCounter
from governance.gateway.writers import Column, sha256_file


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
    with fewer_collections():  # the pipeline holds many objects alive: see collection.py
        spill_paths = [_new_spill(path.parent) for _ in range(parts)]
        try:
            measure = _Measurement(layout, requirement.k) if person_level is not None else None
            if isinstance(records, Partitions):
                _pass_one_partitioned(records, layout, pseudonymize, measure, spill_paths, figures, progress, fmt)
            else:
                _pass_one(records, layout, pseudonymize, measure, spill_paths[0], figures, progress, fmt)
            counted = _counted_positions(layout, figures, measure, person_level)
            with ClassCounter(requirement, max_in_memory=max_classes_in_memory) as counter:
                people, spilled_people = _count(spill_paths, counted, counter, figures, requirement, person_level)
                _pass_two(
                    spill_paths,
                    spilled_people,
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
                    records if isinstance(records, Partitions) else None,
                )
        except BaseException:
            path.unlink(missing_ok=True)  # a failed build leaves no half-written release behind
            raise
        finally:
            for spill_path in spill_paths:
                spill_path.unlink(missing_ok=True)
    figures.rows_suppressed = figures.rows_in - figures.rows_released
    figures.checksum_sha256 = sha256_file(path)
    figures.bytes = path.stat().st_size
    return figures


def _counted_positions(
    layout: _Layout, figures: ReleaseFigures, measure: _Measurement | None, person_level: PersonLevel | None
) -> list[int]:
    """The positions (in a row's combination) k is counted over: the declared quasi-identifiers, plus the
    candidate fields the measurement found identifying (or the release is refused)."""
    counted = list(range(len(layout.qi_names)))
    if measure is not None and person_level is not None:
        figures.identifying_power, flagged = measure.report(person_level)
        if flagged and person_level.refuse_identifying:
            raise IdentifyingFieldError(flagged)
        figures.quasi_identifiers_found = flagged
        figures.quasi_identifiers = layout.qi_names + flagged
        counted += [len(layout.qi_names) + layout.candidate_names.index(n) for n in flagged]
    return counted


def _count(
    spill_paths: list[Path],
    counted: list[int],
    counter: ClassCounter,
    figures: ReleaseFigures,
    requirement: AnonymityRequirement,
    person_level: PersonLevel | None,
) -> tuple[_Footprints | None, list[int]]:
    """Count the row classes, and with k per person the people's footprints; returns the footprints and how
    many people each spill holds."""
    spilled_people = _count_classes(spill_paths, counted, counter)
    summary = counter.finish()
    figures.classes, figures.classes_released = summary.classes, summary.classes_released
    figures.k_achieved, figures.l_achieved = summary.k_achieved, summary.l_achieved
    figures.row_class_k_achieved = summary.k_achieved
    if person_level is None:
        return None, spilled_people
    people = _Footprints(requirement, person_level.prior)
    _measure_people(spill_paths, counted, counter, people)
    figures.k_achieved, figures.l_achieved = people.k_achieved(), people.l_achieved()
    figures.footprints, figures.footprints_released = people.groups(), people.groups_released()
    figures.joint_prior_subjects = sum(1 for _ in person_level.prior)
    return people, spilled_people
