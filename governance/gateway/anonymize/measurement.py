"""Identifying power of released fields, person by person (k per person, pass one)."""

from __future__ import annotations

import math
import operator
from typing import Any

from governance.gateway.anonymize.inputs import PersonLevel
from governance.gateway.anonymize.layout import _Layout


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

    def add(self, combos: list[tuple[Any, ...]], head: tuple[Any, ...], bodies: list[tuple[Any, ...]]) -> None:
        """One person: their rows' combinations, and their rows as the head part (pseudonym and profile values)
        and one event part per row (`bodies`, or one empty part without event columns)."""
        self.people += 1
        footprint = hash(frozenset([c[: self.declared] for c in combos]))
        self.base[footprint] = self.base.get(footprint, 0) + 1
        head_width = len(head)
        for j, position in enumerate(self.positions):
            if position < head_width:  # the same value on every row of the person
                value = hash(frozenset((head[position],)))
            else:
                value = hash(frozenset(map(operator.itemgetter(position - head_width), bodies)))
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
