"""Row classes and, for k per person, people's footprints over the rows that survive row-class suppression."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from governance.gateway.anonymize.spill import _project, _spilled_classes
from governance.gateway.kanon import AnonymityRequirement, ClassCounter


def _count_classes(spill_path: Sequence[Path], counted: list[int], counter: ClassCounter) -> list[int]:
    """Row classes over the counted quasi-identifiers: distinct subjects (and sensitive values) per class.
    Returns how many subjects each spill holds (pass two numbers people across the spills from them)."""
    spilled = []
    for one in spill_path:
        people = 0
        for combos, subjects in _spilled_classes([one]):
            projected = _project(combos, counted)
            people += len(subjects)
            for _subject, idxs, values in subjects:
                classes: dict[tuple[Any, ...], set[Any] | None] = {}
                for n, at in enumerate(idxs):
                    held = classes.get(projected[at])
                    if held is None:
                        held = classes[projected[at]] = set()
                    if values is not None:
                        held.add(values[n])
                counter.add_subject(classes)
        spilled.append(people)
    return spilled


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
    for combos, subjects in _spilled_classes(spill_path):
        projected = _project(combos, counted)
        verdicts = [counter.released(c) for c in projected]
        # a chunk's people share most classes: each class is encoded once per chunk, not once per person
        texts = [_class_text(c) if verdict else "" for c, verdict in zip(projected, verdicts, strict=True)]
        for subject_bytes, idxs, values in subjects:
            kept = [n for n, at in enumerate(idxs) if verdicts[at]]
            sensitive = frozenset(values[n] for n in kept) if values is not None else None
            people.add(uuid.UUID(bytes=subject_bytes), {texts[idxs[n]] for n in kept}, sensitive)


def _class_text(combo: tuple[Any, ...]) -> str:
    """A row class as the text a footprint digest is made of."""
    return json.dumps(combo, default=str, separators=(",", ":"))
