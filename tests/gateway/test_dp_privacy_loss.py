"""Finding 4 of issue 15: the DP statistics hold for the person-level neighbouring relation.

Neighbouring datasets differ by one person's rows, any number from 0 to N (max_rows_per_subject), added or
removed. For Laplace and two-sided geometric noise the worst-case privacy loss of releasing a plan's noisy
quantities between datasets D and D' is exactly sum_i eps_i * |q_i(D) - q_i(D')| / sensitivity_i (the supremum
of the log density ratio over all outputs). We enumerate small datasets and every neighbour and check it never
exceeds epsilon; the harness itself is checked against the previous mechanism (diffprivlib's replace-one mean
with a data-sized sensitivity), whose exact loss it finds above epsilon.
"""

from __future__ import annotations

import itertools
import math
import statistics
from decimal import Decimal

import pytest

from governance.gateway.dp import DPQuery, noise_plan, run_query

EPSILON = 1.0
BOUNDS = (-2.0, 5.0)  # asymmetric, so max(|lower|, |upper|) and the centring both matter
GRID = (-2.0, 0.5, 5.0)


def people(max_rows: int) -> list[tuple[float, ...]]:
    """Every possible person: 0..max_rows rows, each value on the grid (bounds included)."""
    out: list[tuple[float, ...]] = []
    for k in range(max_rows + 1):
        out.extend(itertools.combinations_with_replacement(GRID, k))
    return out


def plan_loss(query: DPQuery, d1: list[tuple[float, ...]], d2: list[tuple[float, ...]]) -> float:
    p1, p2 = noise_plan(query, d1), noise_plan(query, d2)
    assert [q.name for q in p1] == [q.name for q in p2], "the plan's shape must not depend on the data"
    loss = 0.0
    for a, b in zip(p1, p2, strict=True):
        assert (a.sensitivity, a.epsilon, a.mechanism) == (b.sensitivity, b.epsilon, b.mechanism)
        loss += a.epsilon * abs(a.true_value - b.true_value) / a.sensitivity
    return loss


def worst_loss(query: DPQuery, base_sizes: tuple[int, ...]) -> float:
    candidates = people(query.max_rows_per_subject)
    worst = 0.0
    for size in base_sizes:
        for base in itertools.combinations_with_replacement(candidates, size):
            for extra in candidates:
                worst = max(worst, plan_loss(query, list(base), [*base, extra]))
    return worst


@pytest.mark.parametrize("statistic", ["count", "sum", "mean", "variance", "histogram"])
@pytest.mark.parametrize("max_rows", [1, 2, 3])
def test_worst_case_privacy_loss_over_neighbours_is_at_most_epsilon(statistic, max_rows):
    query = DPQuery(statistic, Decimal(EPSILON), bounds=BOUNDS, max_rows_per_subject=max_rows, bins=3)
    worst = worst_loss(query, base_sizes=(0, 1, 2) if max_rows < 3 else (0, 1))
    assert worst <= EPSILON * (1 + 1e-12)
    assert worst >= EPSILON * 0.5  # and the noise is not wildly over-provisioned: some neighbour comes close


def _old_mean_log_density(x: float, mean: float, scale: float, lower: float, upper: float) -> float:
    """diffprivlib.tools.mean before: Laplace(scale) added to the mean, clipped to the bounds (atoms there)."""
    if x == lower:
        return math.log(0.5) - (mean - lower) / scale
    if x == upper:
        return math.log(0.5) - (upper - mean) / scale
    return -math.log(2 * scale) - abs(x - mean) / scale


def _old_mean_loss(d1, d2, *, epsilon, max_rows, lower, upper) -> float:
    def params(data):
        rows = [v for p in data for v in p]
        # sensitivity (upper - lower) / n with the data's own n, at epsilon / N per row
        return statistics.fmean(rows), (upper - lower) / len(rows) / (epsilon / max_rows)

    (m1, b1), (m2, b2) = params(d1), params(d2)
    xs = [lower, upper] + [lower + (upper - lower) * i / 4000 for i in range(1, 4000)]
    return max(
        abs(_old_mean_log_density(x, m1, b1, lower, upper) - _old_mean_log_density(x, m2, b2, lower, upper)) for x in xs
    )


def test_the_harness_finds_the_old_fixed_row_count_mean_above_epsilon():
    # 10 rows: one person with 5 rows at the lower bound, one with 5 at the upper bound, and the second removed
    loss = _old_mean_loss([(0.0,) * 5, (1.0,) * 5], [(0.0,) * 5], epsilon=EPSILON, max_rows=5, lower=0.0, upper=1.0)
    assert loss > 1.19 * EPSILON
    # the new mean on the same neighbours stays within epsilon
    query = DPQuery("mean", Decimal(EPSILON), bounds=(0.0, 1.0), max_rows_per_subject=5)
    assert plan_loss(query, [(0.0,) * 5, (1.0,) * 5], [(0.0,) * 5]) <= EPSILON


def test_run_query_adds_the_noise_its_plan_states():
    data = [[1.0, 2.0], [4.0], [5.0, 5.0]]
    query = DPQuery("sum", Decimal("0.5"), bounds=BOUNDS, max_rows_per_subject=2)
    (planned,) = noise_plan(query, data)
    errors = [run_query(query, data, random_state=seed).value - planned.true_value for seed in range(3000)]
    assert statistics.fmean(errors) == pytest.approx(0, abs=4 * planned.scale * math.sqrt(2) / math.sqrt(3000))
    assert statistics.pstdev(errors) == pytest.approx(planned.scale * math.sqrt(2), rel=0.1)


def test_empty_data_gives_a_noisy_answer_not_an_error():
    for statistic in ("mean", "variance", "quantiles", "histogram", "sum", "count"):
        result = run_query(DPQuery(statistic, Decimal(1), bounds=BOUNDS), [], random_state=4)
        assert result.epsilon == Decimal(1)
        if statistic in ("mean", "variance") and result.empty:
            assert result.value is None
