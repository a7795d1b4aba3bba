"""Differentially private statistics with diffprivlib, with per-subject contribution bounding.

The caller gives the bounds (never derived from the data: diffprivlib's ``PrivacyLeakWarning`` is raised as
an error) and a cap of N rows per subject. Each subject's rows are sampled down to N and clipped to the
bounds, and diffprivlib runs with epsilon / N per row, so by group privacy the guarantee is epsilon per
*person*. All the mechanisms used are pure epsilon-DP (delta = 0). diffprivlib is imported only when a query
runs.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

__all__ = [
    "STATISTICS",
    "DPQuery",
    "DPQueryError",
    "DPResult",
    "bound_contributions",
    "guard_privacy_leaks",
    "run_query",
]

Statistic = Literal["count", "sum", "mean", "variance", "histogram", "quantiles"]
STATISTICS: tuple[str, ...] = ("count", "sum", "mean", "variance", "histogram", "quantiles")
MECHANISMS = {
    "count": "geometric, diffprivlib.mechanisms.Geometric",
    "sum": "laplace, diffprivlib.mechanisms.Laplace",
    "mean": "laplace (truncated), diffprivlib.tools.mean",
    "variance": "laplace (bounded domain), diffprivlib.tools.var",
    "histogram": "geometric (truncated) per bin, diffprivlib.tools.histogram",
    "quantiles": "exponential, diffprivlib.tools.quantile",
}


class DPQueryError(ValueError):
    """A query that cannot run as asked (bad parameters, a leak diffprivlib detected)."""


@dataclass(frozen=True, slots=True)
class DPQuery:
    """One statistic. ``bounds`` are required except for ``count``; ``bins`` for histograms."""

    statistic: Statistic
    epsilon: Decimal
    bounds: tuple[float, float] | None = None
    max_rows_per_subject: int = 1
    bins: int = 10
    quantiles: tuple[float, ...] = (0.5,)

    def validate(self) -> None:
        if self.statistic not in STATISTICS:
            raise DPQueryError(f"unknown statistic {self.statistic!r}")
        if not (Decimal(0) < self.epsilon <= Decimal(10)):
            raise DPQueryError("epsilon must be in (0, 10]")
        if not 1 <= self.max_rows_per_subject <= 1000:
            raise DPQueryError("max_rows_per_subject must be between 1 and 1000")
        if self.statistic != "count":
            if self.bounds is None:
                raise DPQueryError("bounds are required for this statistic")
            lower, upper = self.bounds
            if not lower < upper:
                raise DPQueryError("bounds must satisfy lower < upper")
        if self.statistic == "histogram" and not 1 <= self.bins <= 1000:
            raise DPQueryError("bins must be between 1 and 1000")
        if self.statistic == "quantiles" and (
            not self.quantiles or len(self.quantiles) > 99 or any(not 0 <= q <= 1 for q in self.quantiles)
        ):
            raise DPQueryError("quantiles must be 1 to 99 values in [0, 1]")


@dataclass(frozen=True, slots=True)
class DPResult:
    statistic: str
    value: Any
    epsilon: Decimal
    delta: Decimal
    mechanism: str
    bounds: tuple[float, float] | None
    max_rows_per_subject: int
    epsilon_per_row: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "statistic": self.statistic,
            "value": self.value,
            "epsilon": str(self.epsilon),
            "delta": str(self.delta),
            "mechanism": self.mechanism,
            "bounds": list(self.bounds) if self.bounds else None,
            "max_rows_per_subject": self.max_rows_per_subject,
            "epsilon_per_row": self.epsilon_per_row,
            "unit_of_privacy": "subject",
        }


def bound_contributions(
    values_by_subject: Iterable[Sequence[float]],
    *,
    max_rows: int,
    bounds: tuple[float, float] | None,
    rng: random.Random,
) -> list[float]:
    """At most ``max_rows`` values per subject (a uniform sample if more), clipped to ``bounds``."""
    out: list[float] = []
    for values in values_by_subject:
        chosen = values if len(values) <= max_rows else rng.sample(list(values), max_rows)
        if bounds is None:
            out.extend(float(v) for v in chosen)
        else:
            lower, upper = bounds
            out.extend(min(max(float(v), lower), upper) for v in chosen)
    return out


@contextmanager
def guard_privacy_leaks() -> Iterator[None]:
    """Turns diffprivlib's ``PrivacyLeakWarning`` (data-derived bounds) into :class:`DPQueryError`."""
    from diffprivlib.utils import PrivacyLeakWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", PrivacyLeakWarning)
        try:
            yield
        except PrivacyLeakWarning as exc:
            raise DPQueryError("the query would leak privacy (bounds or ranges missing)") from exc


def run_query(
    query: DPQuery,
    values_by_subject: Iterable[Sequence[float]],
    *,
    random_state: int | None = None,
) -> DPResult:
    """Runs ``query`` over the subjects' values; raises :class:`DPQueryError` for invalid queries or leaks."""
    query.validate()
    import numpy as np
    from diffprivlib import tools
    from diffprivlib.accountant import BudgetAccountant

    rng = random.Random(random_state)  # noqa: S311 - sampling rows, not a secret
    data = np.asarray(
        bound_contributions(values_by_subject, max_rows=query.max_rows_per_subject, bounds=query.bounds, rng=rng),
        dtype=float,
    )
    epsilon_row = float(query.epsilon) / query.max_rows_per_subject
    accountant = BudgetAccountant()  # private to this call: the ledger, not diffprivlib, keeps the budget
    common: dict[str, Any] = {"epsilon": epsilon_row, "random_state": random_state, "accountant": accountant}
    if query.statistic in ("mean", "variance", "quantiles") and data.size == 0:
        raise DPQueryError("no rows to compute this statistic over")
    with guard_privacy_leaks():
        value = _compute(tools, np, query, data, common)
    return DPResult(
        statistic=query.statistic,
        value=value,
        epsilon=query.epsilon,
        delta=Decimal(0),
        mechanism=MECHANISMS[query.statistic],
        bounds=query.bounds,
        max_rows_per_subject=query.max_rows_per_subject,
        epsilon_per_row=epsilon_row,
    )


def _compute(tools: Any, np: Any, query: DPQuery, data: Any, common: dict[str, Any]) -> Any:
    from diffprivlib.mechanisms import Geometric, Laplace

    epsilon, random_state = common["epsilon"], common["random_state"]
    if query.statistic == "count":
        # not tools.count_nonzero: it truncates at the true count, which biases it and reveals that count
        noisy = Geometric(epsilon=epsilon, sensitivity=1, random_state=random_state).randomise(int(data.size))
        return max(int(noisy), 0)
    bounds = query.bounds
    assert bounds is not None
    if query.statistic == "sum":
        # not tools.sum: it truncates to [lower*n, upper*n] with the true n. Adding or removing one row moves
        # the sum by at most max(|lower|, |upper|).
        sensitivity = max(abs(bounds[0]), abs(bounds[1]))
        mechanism = Laplace(epsilon=epsilon, sensitivity=sensitivity, random_state=random_state)
        return float(mechanism.randomise(float(data.sum())))
    if query.statistic == "mean":
        return float(tools.mean(data, bounds=bounds, **common))
    if query.statistic == "variance":
        return float(tools.var(data, bounds=bounds, **common))
    if query.statistic == "histogram":
        counts, edges = tools.histogram(data, bins=query.bins, range=bounds, **common)
        return {"counts": [int(c) for c in counts], "edges": [float(e) for e in edges]}
    values = tools.quantile(data, list(query.quantiles), bounds=bounds, **common)
    return {"quantiles": list(query.quantiles), "values": [float(v) for v in np.atleast_1d(values)]}
