"""Counts a model card may publish: DP-noised from the job's own budget, never exact.

Two model cards around one person's withdrawal used to differ by exactly that person's rows (`rows_in`) and by
one in `subjects_in` (finding 3 of issue 15). Here the number of people gets two-sided geometric noise of
sensitivity 1, and the number of rows, each person's rows clipped to a public bound R, geometric noise of
sensitivity R; each at half of the job's count epsilon (pure epsilon-DP, charged to the job's reservation).
The noisy number of people is also what the job uses wherever it needs a dataset size (the Poisson sampling
rate, the delta <= 1/(10 N) check), so nothing published is a function of the exact count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["NoisyCounts", "noisy_counts"]


@dataclass(frozen=True)
class NoisyCounts:
    people: int
    rows: int
    epsilon: float
    rows_per_person_bound: int

    def as_card(self) -> dict[str, Any]:
        return {
            "people": self.people,
            "rows": self.rows,
            "method": "dp",
            "mechanism": "two-sided geometric (diffprivlib.mechanisms.Geometric)",
            "epsilon": self.epsilon,
            "epsilon_people": self.epsilon / 2,
            "epsilon_rows": self.epsilon / 2,
            "sensitivity_people": 1,
            "sensitivity_rows": self.rows_per_person_bound,
            "rows_per_person_bound": self.rows_per_person_bound,
            "note": (
                "Noisy counts charged to this job's budget; rows counts each person's rows up to the bound. "
                "Exact counts are not published."
            ),
        }


def noisy_counts(
    rows_per_person: Sequence[int], *, epsilon: float, max_rows_per_person: int, random_state: int | None = None
) -> NoisyCounts:
    """DP counts of people and (clipped) rows at ``epsilon`` in total; never negative (post-processing)."""
    # deferred: heavy: diffprivlib stays out of web workers
    from diffprivlib.mechanisms import Geometric
    from diffprivlib.utils import check_random_state

    if epsilon <= 0 or max_rows_per_person < 1:
        raise ValueError("epsilon must be positive and the rows bound at least 1")
    state = check_random_state(random_state, secure=True)
    people = Geometric(epsilon=epsilon / 2, sensitivity=1, random_state=state).randomise(len(rows_per_person))
    clipped = sum(min(max(int(r), 0), max_rows_per_person) for r in rows_per_person)
    rows = Geometric(epsilon=epsilon / 2, sensitivity=max_rows_per_person, random_state=state).randomise(clipped)
    return NoisyCounts(max(int(people), 0), max(int(rows), 0), epsilon, max_rows_per_person)
