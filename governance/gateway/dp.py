"""Differentially private statistics whose guarantee holds per *person*, with diffprivlib's mechanisms.

Unit of privacy: one person. Neighbouring datasets: one person's rows, any number from 0 up to the bound N
(``max_rows_per_subject``), added or removed. Every statistic is computed from exact quantities over the
bounded contributions (each person's rows sampled down to N, each value clipped to the caller's bounds), each
perturbed by a mechanism whose sensitivity is the most one such person can change it:

- count of rows: N (geometric);
- sum: N * max(|lower|, |upper|) (Laplace);
- mean: a noisy sum of values centred on the middle of the bounds (sensitivity N * (upper - lower) / 2) and a
  noisy row count (N), epsilon / 2 each; the mean is their ratio, clipped to the bounds. A noisy count below 1
  gives an empty answer (``value`` null): post-processing of DP outputs, still charged;
- variance: noisy count, centred sum and centred sum of squares, epsilon / 3 each;
- histogram: one count per bin; one person moves the vector by at most N in L1, so each bin gets geometric
  noise of scale N / epsilon;
- quantiles: diffprivlib's exponential mechanism (add/remove-one-row sensitivity 1) at epsilon / N per row,
  hence epsilon per person by group privacy.

Nothing depends on the data's row count being fixed (the flaw of diffprivlib's replace-one mean, whose
sensitivity (upper - lower) / n assumes n is public). :func:`noise_plan` lists every noisy quantity with its
exact value, sensitivity and epsilon share; :func:`run_query` adds exactly that noise, and the tests compute the
worst-case privacy loss from the plan over enumerated neighbouring datasets. Bounds come from the caller, never
the data (diffprivlib's ``PrivacyLeakWarning`` is an error). All mechanisms are pure epsilon-DP (delta = 0).
diffprivlib is imported only when a query that needs it runs: a count from SQL (`run_bounded_count`) draws the
same geometric noise without it.
"""

from __future__ import annotations

import math
import random
import secrets
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
    "NoisyQuantity",
    "bound_contributions",
    "expected_accuracy",
    "guard_privacy_leaks",
    "noise_plan",
    "run_bounded_count",
    "run_bounded_histogram",
    "run_query",
    "two_sided_geometric",
]

Statistic = Literal["count", "sum", "mean", "variance", "histogram", "quantiles"]
STATISTICS: tuple[str, ...] = ("count", "sum", "mean", "variance", "histogram", "quantiles")
MECHANISMS = {
    "count": "geometric (sensitivity N), diffprivlib.mechanisms.Geometric",
    "sum": "laplace (sensitivity N*max(|lower|,|upper|)), diffprivlib.mechanisms.Laplace",
    "mean": "laplace centred sum / geometric count, epsilon/2 each, diffprivlib.mechanisms",
    "variance": "laplace centred sums of values and squares / geometric count, epsilon/3 each",
    "histogram": "geometric per bin (L1 sensitivity N), diffprivlib.mechanisms.Geometric",
    "quantiles": "exponential, diffprivlib.tools.quantile at epsilon/N per row (group privacy)",
}
NEIGHBOURING = "one person's rows (0 to max_rows_per_subject) added or removed"
Z95 = 1.959963984540054  # two-sided 95% quantile of the standard normal


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
class NoisyQuantity:
    """One exact quantity and the noise added to it: ``scale = sensitivity / epsilon``.

    ``sensitivity`` is the largest change of ``true_value`` when one person (0..N rows) is added or removed.
    The privacy loss of releasing all quantities of a plan between two neighbouring datasets is exactly
    ``sum(epsilon * |difference| / sensitivity)`` (Laplace and two-sided geometric alike).
    """

    name: str
    true_value: float
    sensitivity: float
    epsilon: float
    mechanism: Literal["laplace", "geometric"]

    @property
    def scale(self) -> float:
        return self.sensitivity / self.epsilon


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
    empty: bool = False

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
            "neighbouring": NEIGHBOURING,
            "empty": self.empty,
        }


def bound_contributions(
    values_by_subject: Iterable[Sequence[float]],
    *,
    max_rows: int,
    bounds: tuple[float, float] | None,
    rng: random.Random,
) -> list[list[float]]:
    """Per subject, at most ``max_rows`` values (a uniform sample if more), clipped to ``bounds``."""
    out: list[list[float]] = []
    for values in values_by_subject:
        chosen = values if len(values) <= max_rows else rng.sample(list(values), max_rows)
        if bounds is None:
            out.append([float(v) for v in chosen])
        else:
            lower, upper = bounds
            out.append([min(max(float(v), lower), upper) for v in chosen])
    return out


def _histogram_counts(rows: list[float], bins: int, bounds: tuple[float, float]) -> list[int]:
    lower, upper = bounds
    width = (upper - lower) / bins
    counts = [0] * bins
    for value in rows:
        index = min(int((value - lower) / width), bins - 1)  # the upper bound falls in the last bin
        counts[index] += 1
    return counts


def noise_plan(query: DPQuery, contributions: Sequence[Sequence[float]]) -> list[NoisyQuantity]:
    """Every noisy quantity ``run_query`` releases for ``query`` over bounded ``contributions`` (empty for
    quantiles, which use the exponential mechanism instead). Pure; the privacy tests enumerate it."""
    n_max = query.max_rows_per_subject
    eps = float(query.epsilon)
    rows = [v for person in contributions for v in person]
    if query.statistic == "count":
        return _count_plan(query, len(rows))
    assert query.bounds is not None
    lower, upper = query.bounds
    if query.statistic == "sum":
        return [NoisyQuantity("sum", math.fsum(rows), n_max * max(abs(lower), abs(upper)), eps, "laplace")]
    middle, half = (lower + upper) / 2, (upper - lower) / 2
    if query.statistic == "mean":
        return [
            NoisyQuantity("centred_sum", math.fsum(v - middle for v in rows), n_max * half, eps / 2, "laplace"),
            NoisyQuantity("count", float(len(rows)), n_max, eps / 2, "geometric"),
        ]
    if query.statistic == "variance":
        return [
            NoisyQuantity("centred_sum", math.fsum(v - middle for v in rows), n_max * half, eps / 3, "laplace"),
            NoisyQuantity(
                "centred_sum_of_squares",
                math.fsum((v - middle) ** 2 for v in rows),
                n_max * half**2,
                eps / 3,
                "laplace",
            ),
            NoisyQuantity("count", float(len(rows)), n_max, eps / 3, "geometric"),
        ]
    if query.statistic == "histogram":
        return _histogram_plan(query, _histogram_counts(rows, query.bins, query.bounds))
    return []


def _histogram_plan(query: DPQuery, counts: Sequence[int]) -> list[NoisyQuantity]:
    """A histogram's noisy bins: one person's N rows change the bins' L1 norm by at most N."""
    n_max, eps = query.max_rows_per_subject, float(query.epsilon)
    return [NoisyQuantity(f"bin_{i}", float(c), n_max, eps, "geometric") for i, c in enumerate(counts)]


def _count_plan(query: DPQuery, bounded_rows: int) -> list[NoisyQuantity]:
    """A count's one noisy quantity, from the number of rows left after bounding each person to N."""
    return [NoisyQuantity("count", float(bounded_rows), query.max_rows_per_subject, float(query.epsilon), "geometric")]


def _noisy(quantities: list[NoisyQuantity], random_state: Any) -> dict[str, float]:
    # deferred: diffprivlib (and numpy) stay out of web workers; only a DP query's run needs them
    from diffprivlib.mechanisms import Geometric, Laplace

    out: dict[str, float] = {}
    for q in quantities:
        if q.mechanism == "geometric":
            mech = Geometric(epsilon=q.epsilon, sensitivity=int(q.sensitivity), random_state=random_state)
            out[q.name] = float(mech.randomise(int(q.true_value)))
        else:
            mech = Laplace(epsilon=q.epsilon, sensitivity=q.sensitivity, random_state=random_state)
            out[q.name] = float(mech.randomise(q.true_value))
    return out


@contextmanager
def guard_privacy_leaks() -> Iterator[None]:
    """Turns diffprivlib's ``PrivacyLeakWarning`` (data-derived bounds) into :class:`DPQueryError`."""
    # deferred: diffprivlib (and numpy) stay out of web workers; only a DP query's run needs them
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
    """Runs ``query`` over the subjects' values; raises :class:`DPQueryError` only for invalid queries (never
    for anything the data decides: an empty population gets a noisy, possibly empty, answer)."""
    query.validate()
    # deferred: diffprivlib (and numpy) stay out of web workers; only a DP query's run needs them
    from diffprivlib.utils import check_random_state

    rng = random.Random(random_state)  # noqa: S311 - sampling rows, not a secret
    contributions = bound_contributions(
        values_by_subject, max_rows=query.max_rows_per_subject, bounds=query.bounds, rng=rng
    )
    # one generator for every mechanism of the query (a fixed int seed per mechanism would correlate the noise)
    state = check_random_state(random_state, secure=True)
    with guard_privacy_leaks():
        if query.statistic == "quantiles":
            value, empty = _quantiles(query, contributions, random_state), False
        else:
            value, empty = _finish(query, _noisy(noise_plan(query, contributions), state))
    return _result(query, value, empty)


def run_bounded_count(query: DPQuery, bounded_rows: int, *, random_state: int | None = None) -> DPResult:
    """A count from its exact bounded row count (each person's rows already capped at N, e.g. by SQL): the same
    plan, noise and result as `run_query` over the rows themselves (the sampled rows do not matter to a count).

    It runs in the web worker's request, so it does not import diffprivlib (with scipy and sklearn, seconds per
    worker): the noise is `two_sided_geometric`, diffprivlib's Geometric sampler step for step, drawn from
    `secrets.SystemRandom` (the generator diffprivlib itself uses when no seed is given). A seed (tests only)
    draws from numpy's RandomState(seed), as diffprivlib's `check_random_state(seed)` does, so a seeded count
    equals `run_query`'s to the integer."""
    query.validate()
    if query.statistic != "count":
        raise DPQueryError("run_bounded_count answers counts only")
    return _run_geometric_plan(query, _count_plan(query, bounded_rows), random_state)


def run_bounded_histogram(query: DPQuery, counts: Sequence[int], *, random_state: int | None = None) -> DPResult:
    """A histogram from its exact bounded bin counts (each person's rows already capped at N, e.g. by SQL): the
    plan `run_query` uses for a histogram (geometric noise per bin, sensitivity N), drawn as `run_bounded_count`
    draws it, so nothing heavy is imported in the web worker."""
    query.validate()
    if query.statistic != "histogram" or len(counts) != query.bins:
        raise DPQueryError("run_bounded_histogram answers histograms of exactly `bins` counts")
    return _run_geometric_plan(query, _histogram_plan(query, counts), random_state)


def _run_geometric_plan(query: DPQuery, plan: list[NoisyQuantity], random_state: int | None) -> DPResult:
    rng: Any = secrets.SystemRandom()
    if random_state is not None:
        import numpy as np  # deferred: only seeded (test) runs need it

        rng = np.random.RandomState(random_state)
    noisy = {q.name: float(two_sided_geometric(int(q.true_value), q.epsilon, int(q.sensitivity), rng)) for q in plan}
    value, empty = _finish(query, noisy)
    return _result(query, value, empty)


def two_sided_geometric(value: int, epsilon: float, sensitivity: int, rng: Any) -> int:
    """`value` plus two-sided geometric noise, P(k) = (1 - a) / (1 + a) * a^|k| with a = exp(-epsilon /
    sensitivity): the inverse-CDF draw of diffprivlib's `Geometric.randomise`, with the same single uniform from
    `rng.random()` (tests/gateway/test_dp_geometric.py checks equal outputs for equal draws, and the pmf)."""
    if not epsilon > 0 or sensitivity < 1:
        raise DPQueryError("the geometric mechanism needs epsilon > 0 and sensitivity >= 1")
    scale = -epsilon / sensitivity
    uniform = 0.0
    while uniform == 0.0:  # a draw of exactly 0.5 (probability 2^-53) has no logarithm: draw again
        uniform = (rng.random() - 0.5) * (1 + math.exp(scale))  # the zero overlap of the two one-sided halves
    sign = -1 if uniform < 0 else 1
    return value + sign * math.floor(math.log(sign * uniform) / scale)


def _result(query: DPQuery, value: Any, empty: bool) -> DPResult:
    return DPResult(
        statistic=query.statistic,
        value=value,
        epsilon=query.epsilon,
        delta=Decimal(0),
        mechanism=MECHANISMS[query.statistic],
        bounds=query.bounds,
        max_rows_per_subject=query.max_rows_per_subject,
        epsilon_per_row=float(query.epsilon) / query.max_rows_per_subject,
        empty=empty,
    )


def _finish(query: DPQuery, noisy: dict[str, float]) -> tuple[Any, bool]:
    """Post-processing of the noisy quantities only (never of the data): the released value."""
    if query.statistic == "count":
        return max(int(noisy["count"]), 0), False
    if query.statistic == "sum":
        return noisy["sum"], False
    assert query.bounds is not None
    lower, upper = query.bounds
    middle, half = (lower + upper) / 2, (upper - lower) / 2
    if query.statistic == "histogram":
        counts = [max(int(noisy[f"bin_{i}"]), 0) for i in range(query.bins)]
        width = (upper - lower) / query.bins
        edges = [lower + i * width for i in range(query.bins)] + [float(upper)]
        return {"counts": counts, "edges": edges}, False
    count = noisy["count"]
    if count < 1:
        return None, True
    mean_offset = min(max(noisy["centred_sum"] / count, -half), half)
    if query.statistic == "mean":
        return middle + mean_offset, False
    variance = noisy["centred_sum_of_squares"] / count - mean_offset**2
    return min(max(variance, 0.0), half**2), False


def _quantiles(query: DPQuery, contributions: list[list[float]], random_state: int | None) -> dict[str, Any]:
    # deferred: diffprivlib (and numpy) stay out of web workers; only a DP query's run needs them
    import numpy as np
    from diffprivlib import tools
    from diffprivlib.accountant import BudgetAccountant

    data = np.asarray([v for person in contributions for v in person], dtype=float)
    epsilon_row = float(query.epsilon) / query.max_rows_per_subject
    # on no rows the exponential mechanism draws uniformly within the bounds: a DP answer, not an error
    values = tools.quantile(
        data,
        list(query.quantiles),
        epsilon=epsilon_row,
        bounds=query.bounds,
        random_state=random_state,  # None: diffprivlib's mechanism then draws from `secrets`
        accountant=BudgetAccountant(),  # private to this call: the ledger, not diffprivlib, keeps the budget
    )
    return {"quantiles": list(query.quantiles), "values": [float(v) for v in np.atleast_1d(values)]}


def _ci95_laplace(scale: float) -> float:
    return scale * math.log(20)  # P(|Lap(b)| > t) = exp(-t / b) = 0.05


def _ci95_geometric(scale: float) -> float:
    alpha = math.exp(-1 / scale)
    # two-sided geometric: P(|X| >= t) = 2 alpha^t / (1 + alpha)
    return float(max(math.ceil(math.log(0.05 * (1 + alpha) / 2) / math.log(alpha)), 0))


def expected_accuracy(query: DPQuery, *, assumed_rows: int | None = None) -> dict[str, Any]:
    """The noise ``query`` will add, from public parameters only (no data): each quantity's noise standard
    deviation and 95% interval half-width, and for mean and variance the value's approximate 95% half-width
    at a caller-assumed row count (their error depends on the row count, which is private)."""
    query.validate()
    stand_in = [[query.bounds[0] if query.bounds else 1.0]]  # values do not change sensitivities or epsilons
    components: list[dict[str, Any]] = []
    for q in noise_plan(query, stand_in):
        std = (
            q.scale * math.sqrt(2)
            if q.mechanism == "laplace"
            else math.sqrt(2 * math.exp(-1 / q.scale)) / (1 - math.exp(-1 / q.scale))
        )
        half = _ci95_laplace(q.scale) if q.mechanism == "laplace" else _ci95_geometric(q.scale)
        name = "each_bin" if q.name.startswith("bin_") else q.name
        if name == "each_bin" and any(c["name"] == name for c in components):
            continue
        components.append(
            {"name": name, "mechanism": q.mechanism, "scale": q.scale, "noise_std": std, "ci95_half_width": half}
        )
    out: dict[str, Any] = {"components": components, "value_ci95_half_width": None, "assumed_rows": assumed_rows}
    if query.statistic in ("count", "sum"):
        out["value_ci95_half_width"] = components[0]["ci95_half_width"]
    elif query.statistic == "histogram":
        out["value_ci95_half_width"] = components[0]["ci95_half_width"]  # per bin
    elif query.statistic in ("mean", "variance") and assumed_rows and query.bounds:
        half = (query.bounds[1] - query.bounds[0]) / 2
        by_name = {c["name"]: c for c in components}
        # delta method at the assumed count: error(mean) ~ sum_noise / n (the count's noise is second order)
        width = Z95 * by_name["centred_sum"]["noise_std"] / assumed_rows
        if query.statistic == "variance":
            width = Z95 * by_name["centred_sum_of_squares"]["noise_std"] / assumed_rows + 2 * half * width
        out["value_ci95_half_width"] = min(width, half if query.statistic == "mean" else half**2)
    elif query.statistic == "quantiles":
        out["note"] = "exponential mechanism: its error depends on the data's spread; none is promised"
    return out
