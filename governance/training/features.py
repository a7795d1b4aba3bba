"""From a gateway dataset (generalized, pseudonymized rows) to the arrays the trainers take.

Every dimension is public: profile values are hashed into a fixed number of buckets (so the feature space never
reveals which values occur in the data), event counts are clipped to a public cap, recommender items come from the
catalogue the client submits (interactions with other items are ignored). Pseudonyms group rows per person and
are dropped: no array carries them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COUNT_CAP",
    "ClassificationArrays",
    "PersonRows",
    "classification_arrays",
    "group_by_person",
    "interaction_histories",
]

PSEUDONYM_COLUMNS = ("subject", "pseudonym")
CATEGORY_COLUMNS = ("category", "event_category")
ITEM_COLUMNS = ("item", "item_id")
TIME_COLUMNS = ("occurred_at",)
EVENT_COLUMNS = frozenset({*CATEGORY_COLUMNS, *ITEM_COLUMNS, *TIME_COLUMNS, "value", "received_at"})
COUNT_CAP = 20  # events of one category counted per person (public clip)


@dataclass
class PersonRows:
    """One person's profile (generalized values) and events, as the gateway released them."""

    profile: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)


def _first(row: Mapping[str, Any], names: Sequence[str]) -> Any:
    for name in names:
        if name in row:
            return row[name]
    return None


def group_by_person(rows: Iterable[Mapping[str, Any]], *, profile_fields: Sequence[str]) -> list[PersonRows]:
    """Group released rows by pseudonym (first-seen order); rows without a pseudonym are ignored.

    A release with event columns has one row per event with the profile repeated; without, one row per person.
    """
    people: dict[str, PersonRows] = {}
    for row in rows:
        pseudonym = _first(row, PSEUDONYM_COLUMNS)
        if pseudonym is None:
            continue
        person = people.get(str(pseudonym))
        if person is None:
            person = people[str(pseudonym)] = PersonRows(
                profile={name: row[name] for name in profile_fields if name in row}
            )
        if _first(row, CATEGORY_COLUMNS) is not None:
            person.events.append({k: v for k, v in row.items() if k not in PSEUDONYM_COLUMNS})
    return list(people.values())


def _bucket(field_name: str, value: Any, buckets: int) -> int:
    digest = hashlib.blake2b(f"{field_name}={value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % buckets


@dataclass(frozen=True)
class ClassificationArrays:
    features: Any  # numpy float32 array, N x (buckets + len(count_categories)), every value in [0, 1]
    labels: Any  # numpy int64 array of 0/1
    feature_names: list[str]
    data_norm: float  # a public bound on each row's L2 norm


def classification_arrays(
    people: Sequence[PersonRows],
    *,
    profile_fields: Sequence[str],
    count_categories: Sequence[str],
    label_category: str,
    buckets: int,
) -> ClassificationArrays:
    """Features: hashed one-hot of the generalized profile values + clipped counts of the other event categories.

    Label: whether the person has at least one event of ``label_category`` in the window.
    """
    # deferred: heavy: numpy stays out of web workers
    import numpy as np

    counted = [c for c in count_categories if c != label_category]
    x = np.zeros((len(people), buckets + len(counted)), dtype=np.float32)
    y = np.zeros(len(people), dtype=np.int64)
    for row, person in enumerate(people):
        for name in profile_fields:
            value = person.profile.get(name)
            if value is not None:
                x[row, _bucket(name, value, buckets)] = 1.0
        counts: dict[str, int] = {}
        for event in person.events:
            category = str(_first(event, CATEGORY_COLUMNS))
            counts[category] = counts.get(category, 0) + 1
        for column, category in enumerate(counted):
            x[row, buckets + column] = min(counts.get(category, 0), COUNT_CAP) / COUNT_CAP
        y[row] = 1 if counts.get(label_category, 0) > 0 else 0
    names = [f"profile_bucket_{i}" for i in range(buckets)] + [f"count_{c}" for c in counted]
    # each profile field sets at most one bucket to 1, each count is at most 1
    data_norm = float(np.sqrt(len(profile_fields) + len(counted))) or 1.0
    return ClassificationArrays(features=x, labels=y, feature_names=names, data_norm=data_norm)


def interaction_histories(
    people: Sequence[PersonRows], *, items: Sequence[str], categories: Sequence[str] | None = None
) -> list[list[int]]:
    """Each person's catalogue indices in time order (stable for equal generalized times); unknown items skipped."""
    index = {str(item): i for i, item in enumerate(items)}
    histories = []
    for person in people:
        events = [
            e
            for e in person.events
            if (categories is None or str(_first(e, CATEGORY_COLUMNS)) in categories)
            and str(_first(e, ITEM_COLUMNS)) in index
        ]
        events.sort(key=lambda e: str(_first(e, TIME_COLUMNS) or ""))
        histories.append([index[str(_first(e, ITEM_COLUMNS))] for e in events])
    return histories
