"""What a release is made of and how it is measured: the subjects' records, the options of k per person, the
partitions of a multi-process pass one, and the refusal of identifying fields."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PSEUDONYM_COLUMN = "subject"


@dataclass(frozen=True, slots=True)
class SubjectRecord:
    """One subject's minimized data: profile values (column to raw value) and event rows (raw values in the
    order of the event columns).

    A release with event columns has one row per event (profile values repeated); without, one row per subject.
    """

    subject_id: uuid.UUID
    profile: Mapping[str, Any]
    events: Sequence[Sequence[Any]] = ()


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
    counts are merged (sums: subjects are disjoint), then class counting and footprints run over the
    partitions' spills, and pass two of each spill runs in a forked process again, writing a part file that is
    appended in order. ``after_fork`` runs first in each child (drop the inherited database connections).
    """

    sources: Sequence[Callable[[], Iterable[SubjectRecord]]]
    processes: int
    after_fork: Callable[[], None] | None = None


class IdentifyingFieldError(ValueError):
    """A released field narrows people down beyond the policy's threshold and the policy says to refuse."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__(f"fields identify people beyond the policy threshold: {', '.join(fields)}")
        self.fields = fields
