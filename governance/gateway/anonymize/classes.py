"""Row classes and, for k per person, people's footprints over the rows that survive row-class suppression."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

from governance.gateway.anonymize.spill import SubjectClasses, _project, _spilled_classes
from governance.gateway.kanon import AnonymityRequirement, ClassCounter


def _count_classes(spill_path: Sequence[Path], counted: list[int], counter: ClassCounter) -> list[int]:
    """Row classes over the counted quasi-identifiers: distinct subjects (and sensitive values) per class.
    Returns how many subjects each spill holds (pass two numbers people across the spills from them)."""
    count_chunk = _count_with_values if counter.counts_values else _count_subjects
    spilled = []
    for one in spill_path:
        people = 0
        for combos, subjects in _spilled_classes([one]):
            people += len(subjects)
            count_chunk(_project(combos, counted), subjects, counter)
        spilled.append(people)
    return spilled


def _count_subjects(projected: list[tuple[Any, ...]], subjects: list[SubjectClasses], counter: ClassCounter) -> None:
    """A chunk's distinct subjects per class, without sensitive values: each subject's distinct classes as a
    set of small ints, all of them counted by one `Counter` (its C loop), then added per class once per chunk
    rather than a dict of sets built per subject (docs/performance.md, session 18)."""
    ids: dict[tuple[Any, ...], int] = {}
    class_id = [ids.setdefault(combo, len(ids)) for combo in projected]  # projection may merge combinations
    counts = Counter(chain.from_iterable({class_id[at] for at in idxs} for _subject, idxs, _values in subjects))
    classes = list(ids)
    counter.add_counts((classes[at], n) for at, n in counts.items())


def _count_with_values(projected: list[tuple[Any, ...]], subjects: list[SubjectClasses], counter: ClassCounter) -> None:
    """l-diversity: each subject's classes with the sensitive values of its rows there."""
    for _subject, idxs, values in subjects:
        classes: dict[tuple[Any, ...], set[Any] | None] = {}
        for n, at in enumerate(idxs):
            held = classes.get(projected[at])
            if held is None:
                held = classes[projected[at]] = set()
            if values is not None:
                held.add(values[n])
        counter.add_subject(classes)


# footprints whose digests are kept for reuse: bounds the cache when nearly every footprint is unique (about
# 1 KiB each with its class texts)
_DIGESTS_KEPT = 20_000


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
        self._digests: dict[frozenset[str], bytes] = {}  # footprint -> digest, at most _DIGESTS_KEPT of them

    def add(self, subject: bytes, classes: frozenset[str], values: frozenset[Any] | None) -> None:
        """One person (their id's bytes): ``classes`` are their released row classes, each as `_class_text`."""
        if not classes:
            self.keys.append(None)
            self.digests.append(None)
            return
        digest = self._digests.get(classes)
        if digest is None:  # most people share their footprint with others: digest each footprint once
            text = "\n".join(sorted(classes))
            digest = hashlib.blake2b(text.encode(), key=self._key, digest_size=16).digest()
            if len(self._digests) >= _DIGESTS_KEPT:
                self._digests.clear()
            self._digests[classes] = digest
        group = (self.prior.get(uuid.UUID(bytes=subject), b"") if self.prior else b"") + b"|" + digest
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
    for combos, subjects in _spilled_classes(spill_path):
        projected = _project(combos, counted)
        verdicts = [counter.released(c) for c in projected]
        # a chunk's people share most classes: each class is encoded once per chunk, not once per person
        texts = [_class_text(c) if verdict else "" for c, verdict in zip(projected, verdicts, strict=True)]
        for subject_bytes, idxs, values in subjects:
            if values is None:
                people.add(subject_bytes, frozenset([texts[at] for at in idxs if verdicts[at]]), None)
                continue
            kept = [n for n, at in enumerate(idxs) if verdicts[at]]
            sensitive = frozenset(values[n] for n in kept)
            people.add(subject_bytes, frozenset([texts[idxs[n]] for n in kept]), sensitive)


def _class_text(combo: tuple[Any, ...]) -> str:
    """A row class as the text a footprint digest is made of."""
    return json.dumps(combo, default=str, separators=(",", ":"))
