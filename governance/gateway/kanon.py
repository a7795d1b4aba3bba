"""k-anonymity and l-diversity over equivalence classes, in bounded memory.

An equivalence class is one combination of generalized quasi-identifier values. Its size is the number of
*distinct subjects* with a row in it (stronger than counting rows: one person with ten rows does not make a
class of ten). A class is released only when it holds at least ``k`` subjects and, when l-diversity is
asked, at least ``l`` distinct values of the sensitive attribute. Counting happens in memory up to
``max_in_memory`` classes and spills to a temporary SQLite file beyond that, so memory stays bounded
whatever the number of classes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["AnonymityRequirement", "ClassCounter", "ClassSummary"]

Combo = tuple[Hashable, ...]


@dataclass(frozen=True, slots=True)
class AnonymityRequirement:
    """k (distinct subjects per class) and optional l-diversity on one sensitive column."""

    k: int = 10
    l: int | None = None  # noqa: E741 - the letter the literature uses
    sensitive: str | None = None

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError("k must be at least 1")
        if (self.l is None) != (self.sensitive is None):
            raise ValueError("l-diversity needs both l and the sensitive attribute")
        if self.l is not None and self.l < 1:
            raise ValueError("l must be at least 1")


@dataclass(frozen=True, slots=True)
class ClassSummary:
    """Figures for the manifest."""

    classes: int
    classes_released: int
    k_achieved: int | None  # smallest released class, in subjects; None when nothing is released
    l_achieved: int | None  # smallest count of distinct sensitive values in a released class (counted up to l)


def _key(combo: Combo) -> str:
    return json.dumps(combo, default=str, separators=(",", ":"))


class ClassCounter:
    """Pass one of a release: counts subjects (and sensitive values) per class; then answers ``released``.

    Feed it one subject at a time with :meth:`add_subject` (or, without l-diversity, a chunk's per-class subject
    counts with :meth:`add_counts`); :meth:`finish` once; then :meth:`released`.
    """

    def __init__(self, requirement: AnonymityRequirement, *, max_in_memory: int = 1_000_000) -> None:
        self.requirement = requirement
        self._l_cap = requirement.l or 0
        self._max = max_in_memory
        self._subjects: dict[Combo, int] = {}
        self._values: dict[Combo, set[Any]] = {}
        self._db: sqlite3.Connection | None = None
        self._db_path: str | None = None
        self._inherited: sqlite3.Connection | None = None
        self._finished = False
        self._cached_released = lru_cache(maxsize=200_000)(self._released_on_disk)

    # pass one ------------------------------------------------------------------------------------------
    def add_subject(self, classes: Mapping[Combo, set[Any] | None]) -> None:
        """One subject's classes (each with its rows' sensitive values there, for l-diversity)."""
        subjects, values, cap = self._subjects, self._values, self._l_cap
        for combo, sensitive in classes.items():
            subjects[combo] = subjects.get(combo, 0) + 1
            if cap and sensitive:
                held = values.setdefault(combo, set())
                if len(held) < cap:
                    for value in sensitive:
                        held.add(value)
                        if len(held) >= cap:
                            break
        if len(subjects) > self._max:
            self._spill()

    @property
    def counts_values(self) -> bool:
        """Whether sensitive values count (l-diversity): then subjects come through :meth:`add_subject`."""
        return bool(self._l_cap)

    def add_counts(self, counts: Iterable[tuple[Combo, int]]) -> None:
        """Without l-diversity: for each class, how many more distinct subjects it holds (a chunk of subjects
        counted at once; each subject counted at most once per class). Spilling is checked after the whole
        chunk, so memory may pass ``max_in_memory`` by one chunk's classes."""
        if self._l_cap:
            raise ValueError("l-diversity counts sensitive values: add subjects one by one")
        subjects = self._subjects
        for combo, n in counts:
            subjects[combo] = subjects.get(combo, 0) + n
        if len(subjects) > self._max:
            self._spill()

    def _open_db(self) -> sqlite3.Connection:
        if self._db is None:
            fd, self._db_path = tempfile.mkstemp(prefix="gateway-classes-", suffix=".sqlite")
            os.close(fd)
            self._db = sqlite3.connect(self._db_path)
            self._db.executescript(
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                "CREATE TABLE classes (combo TEXT PRIMARY KEY, subjects INTEGER NOT NULL);"
                "CREATE TABLE sensitive (combo TEXT NOT NULL, value TEXT NOT NULL,"
                " PRIMARY KEY (combo, value));"
            )
        return self._db

    def _spill(self) -> None:
        db = self._open_db()
        db.executemany(
            "INSERT INTO classes (combo, subjects) VALUES (?, ?) "
            "ON CONFLICT (combo) DO UPDATE SET subjects = subjects + excluded.subjects",
            ((_key(c), n) for c, n in self._subjects.items()),
        )
        db.executemany(
            "INSERT OR IGNORE INTO sensitive (combo, value) VALUES (?, ?)",
            ((_key(c), _key((v,))) for c, held in self._values.items() for v in held),
        )
        db.commit()
        self._subjects.clear()
        self._values.clear()

    def finish(self) -> ClassSummary:
        """Ends pass one and returns the class figures."""
        self._finished = True
        if self._db is not None:
            self._spill()
            return self._summary_on_disk()
        k, l_cap = self.requirement.k, self._l_cap
        released = [
            (n, len(self._values.get(c, ())))
            for c, n in self._subjects.items()
            if n >= k and (not l_cap or len(self._values.get(c, ())) >= l_cap)
        ]
        return ClassSummary(
            classes=len(self._subjects),
            classes_released=len(released),
            k_achieved=min((n for n, _ in released), default=None),
            l_achieved=min((v for _, v in released), default=None) if l_cap else None,
        )

    def _diversity_sql(self) -> str:
        return "(SELECT COUNT(*) FROM sensitive s WHERE s.combo = c.combo)"

    def _summary_on_disk(self) -> ClassSummary:
        assert self._db is not None
        k, l_cap = self.requirement.k, self._l_cap
        diversity = self._diversity_sql() if l_cap else "NULL"
        condition = f"c.subjects >= ? AND ({diversity} >= ? OR ? = 0)"
        total = self._db.execute("SELECT COUNT(*) FROM classes").fetchone()[0]
        # distinct values are counted up to l in memory but may exceed it across spills: cap them the same way
        released, k_min, l_min = self._db.execute(
            f"SELECT COUNT(*), MIN(c.subjects), MIN(min({diversity}, ?)) FROM classes c "  # noqa: S608 - fixed SQL, values bound  # nosec B608
            f"WHERE {condition}",
            (l_cap, k, l_cap, l_cap),
        ).fetchone()
        return ClassSummary(
            classes=total,
            classes_released=released,
            k_achieved=k_min,
            l_achieved=l_min if l_cap and released else None,
        )

    # pass two ------------------------------------------------------------------------------------------
    def released(self, combo: Combo) -> bool:
        """Whether rows of this class may be released (after :meth:`finish`)."""
        if not self._finished:
            raise RuntimeError("finish() must be called before released()")
        if self._db is not None:
            return self._cached_released(combo)
        n = self._subjects.get(combo, 0)
        if n < self.requirement.k:
            return False
        return not self._l_cap or len(self._values.get(combo, ())) >= self._l_cap

    def _released_on_disk(self, combo: Combo) -> bool:
        assert self._db is not None
        key = _key(combo)
        row = self._db.execute("SELECT subjects FROM classes WHERE combo = ?", (key,)).fetchone()
        if row is None or row[0] < self.requirement.k:
            return False
        if not self._l_cap:
            return True
        (count,) = self._db.execute("SELECT COUNT(*) FROM sensitive WHERE combo = ?", (key,)).fetchone()
        return bool(count >= self._l_cap)

    def reopen_after_fork(self) -> None:
        """In a forked process that answers `released` (pass two of a partition): its own connection to the
        spill file, if any. SQLite connections must not be used across a fork; the inherited one is left
        unused (not closed: closing it could disturb the parent's)."""
        if self._db is not None and self._db_path is not None:
            self._inherited = self._db
            self._db = sqlite3.connect(self._db_path)
            self._cached_released = lru_cache(maxsize=200_000)(self._released_on_disk)

    def close(self) -> None:
        """Removes the spill file, if any."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._db_path is not None:
            os.unlink(self._db_path)
            self._db_path = None

    def __enter__(self) -> ClassCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def classes_of(rows: Iterable[tuple[Combo, Any]]) -> dict[Combo, set[Any] | None]:
    """Groups one subject's ``(combo, sensitive value)`` pairs for :meth:`ClassCounter.add_subject`."""
    grouped: dict[Combo, set[Any] | None] = {}
    for combo, value in rows:
        held = grouped.get(combo)
        if held is None:
            held = grouped[combo] = set()
        held.add(value)
    return grouped
