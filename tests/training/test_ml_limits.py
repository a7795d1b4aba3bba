"""Pure checks of requested privacy parameters: delta <= 1/(10 N), epsilon <= cap."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from governance.training.ml.limits import (
    DEFAULT_EPSILON_CAP,
    PrivacyParametersRefusedError,
    check_privacy_parameters,
    max_delta,
    require_acceptable,
)


def codes(**kwargs: float) -> set[str]:
    return {r.code for r in check_privacy_parameters(**kwargs)}


def test_acceptable_request_has_no_refusals() -> None:
    assert check_privacy_parameters(epsilon=3.0, delta=1e-5, n_examples=1000) == []


def test_delta_above_one_over_ten_n_is_refused_with_the_bound() -> None:
    refusals = check_privacy_parameters(epsilon=3.0, delta=2e-4, n_examples=1000)
    assert [r.code for r in refusals] == ["delta_too_large"]
    assert "1/(10*N)" in refusals[0].reason
    assert "0.0001" in refusals[0].reason


def test_epsilon_above_cap_is_refused() -> None:
    assert codes(epsilon=10.5, delta=1e-6, n_examples=1000) == {"epsilon_above_cap"}
    assert codes(epsilon=4.0, delta=1e-6, n_examples=1000, epsilon_cap=3.0) == {"epsilon_above_cap"}
    assert DEFAULT_EPSILON_CAP == 10.0


@pytest.mark.parametrize("epsilon", [0.0, -1.0, math.inf, math.nan])
def test_invalid_epsilon(epsilon: float) -> None:
    assert "epsilon_invalid" in codes(epsilon=epsilon, delta=1e-6, n_examples=1000)


def test_every_reason_is_given_at_once() -> None:
    assert codes(epsilon=50.0, delta=0.5, n_examples=0) == {"epsilon_above_cap", "too_few_examples"}
    found = codes(epsilon=50.0, delta=0.5, n_examples=10)
    assert found == {"epsilon_above_cap", "delta_too_large"}


def test_pure_dp_models_need_delta_zero() -> None:
    assert codes(epsilon=1.0, delta=1e-6, n_examples=100, delta_required=False) == {"delta_not_zero"}
    assert codes(epsilon=1.0, delta=0.0, n_examples=100, delta_required=False) == set()
    assert codes(epsilon=1.0, delta=0.0, n_examples=100) == {"delta_invalid"}


def test_require_acceptable_raises_with_all_refusals() -> None:
    with pytest.raises(PrivacyParametersRefusedError) as raised:
        require_acceptable(epsilon=11.0, delta=0.1, n_examples=100)
    assert {r.code for r in raised.value.refusals} == {"epsilon_above_cap", "delta_too_large"}


@given(n=st.integers(min_value=1, max_value=10**9), factor=st.floats(min_value=0.01, max_value=100.0))
def test_delta_bound_property(n: int, factor: float) -> None:
    delta = factor * max_delta(n)
    assume(delta < 1.0)
    refused = "delta_too_large" in codes(epsilon=1.0, delta=delta, n_examples=n)
    assert refused == (delta > 1.0 / (10.0 * n))
