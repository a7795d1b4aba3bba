import random
import statistics
import warnings
from decimal import Decimal

import pytest

from governance.gateway.dp import DPQuery, DPQueryError, bound_contributions, guard_privacy_leaks, run_query


def subjects(n=2000, rows=3, seed=1):
    rng = random.Random(seed)
    return [[rng.uniform(20, 80) for _ in range(rows)] for _ in range(n)]


def test_bounds_are_required_except_for_counts():
    for statistic in ("sum", "mean", "variance", "histogram", "quantiles"):
        with pytest.raises(DPQueryError, match="bounds"):
            run_query(DPQuery(statistic, Decimal(1)), subjects(10))
    assert run_query(DPQuery("count", Decimal(1)), subjects(10), random_state=1).delta == 0


def test_privacy_leak_warning_becomes_an_error():
    import numpy as np
    from diffprivlib import tools

    with pytest.raises(DPQueryError, match="leak"), guard_privacy_leaks():
        tools.mean(np.arange(10.0), epsilon=1.0)  # no bounds: diffprivlib warns
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with guard_privacy_leaks():
            tools.mean(np.arange(10.0), epsilon=1.0, bounds=(0, 10))


@pytest.mark.parametrize(
    "query",
    [
        DPQuery("count", Decimal(0)),
        DPQuery("count", Decimal(11)),
        DPQuery("mean", Decimal(1), bounds=(5, 5)),
        DPQuery("count", Decimal(1), max_rows_per_subject=0),
        DPQuery("histogram", Decimal(1), bounds=(0, 1), bins=0),
        DPQuery("quantiles", Decimal(1), bounds=(0, 1), quantiles=(1.5,)),
    ],
)
def test_invalid_queries_are_refused(query):
    with pytest.raises(DPQueryError):
        run_query(query, subjects(10))


def test_contributions_are_bounded_per_subject_and_clipped():
    rng = random.Random(0)
    bounded = bound_contributions([[1000.0] * 50, [-5.0], [3.0, 4.0]], max_rows=2, bounds=(0, 10), rng=rng)
    assert sorted(v for person in bounded for v in person) == [0.0, 3.0, 4.0, 10.0, 10.0]
    assert [len(person) for person in bounded] == [2, 1, 2]


def test_epsilon_is_split_over_the_rows_a_subject_may_contribute():
    result = run_query(DPQuery("count", Decimal(1), max_rows_per_subject=4), subjects(10), random_state=3)
    assert result.epsilon_per_row == pytest.approx(0.25)
    assert result.as_dict()["unit_of_privacy"] == "subject"


@pytest.mark.slow
def test_results_are_within_expected_error_over_repeated_runs():
    data = subjects(2000, rows=3)
    true_count = 6000
    true_mean = statistics.fmean(v for s in data for v in s)
    counts, means = [], []
    for seed in range(200):
        counts.append(run_query(DPQuery("count", Decimal(1), max_rows_per_subject=3), data, random_state=seed).value)
        means.append(
            run_query(
                DPQuery("mean", Decimal(1), bounds=(0, 100), max_rows_per_subject=3), data, random_state=seed
            ).value
        )
    # geometric noise with scale N/epsilon = 3: the average error is near 0 and P(|e| > 3*ln(100)) < 1%
    assert abs(statistics.fmean(counts) - true_count) < 1.0
    assert sum(abs(c - true_count) > 3 * 4.61 for c in counts) <= 6
    # mean: laplace scale (100/6000)*3 = 0.05
    assert abs(statistics.fmean(means) - true_mean) < 0.02
    assert max(abs(m - true_mean) for m in means) < 0.05 * 8


def test_histogram_and_quantiles_have_the_right_shape():
    data = subjects(3000, rows=1)
    hist = run_query(DPQuery("histogram", Decimal(2), bounds=(0, 100), bins=5), data, random_state=1).value
    assert len(hist["counts"]) == 5
    assert len(hist["edges"]) == 6
    assert hist["counts"][0] < 50  # nothing below 20 but noise
    assert hist["counts"][4] < 50
    q = run_query(DPQuery("quantiles", Decimal(2), bounds=(0, 100), quantiles=(0.25, 0.5)), data, random_state=1)
    low, mid = q.value["values"]
    assert 30 < low < 42
    assert 44 < mid < 56
