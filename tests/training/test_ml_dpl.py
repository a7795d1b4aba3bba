"""diffprivlib models: epsilon as requested, public bounds, better than chance."""

from __future__ import annotations

import math
import warnings

import pytest

from governance.training.ml.dpl import train_dpl_logistic, train_dpl_naive_bayes
from governance.training.ml.limits import PrivacyParametersRefusedError
from tests.training.synthetic import planted_classification


def test_logistic_regression_spends_exactly_its_epsilon() -> None:
    x, y = planted_classification(n=4000, seed=6)
    model = train_dpl_logistic(x, y, epsilon=2.0, data_norm=math.sqrt(x.shape[1]), noise_seed=7)
    assert model.privacy["epsilon"] == 2.0
    assert model.privacy["delta"] == 0.0
    assert model.privacy["bounds"] == {"data_norm": math.sqrt(10)}
    assert model.metrics["accuracy"] > model.metrics["majority_class_accuracy"] + 0.1
    assert set(model.weights) == {"coef", "intercept"}


def test_naive_bayes_uses_public_bounds_and_public_classes() -> None:
    x, y = planted_classification(n=4000, seed=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a PrivacyLeakWarning (bounds from data) would fail here
        model = train_dpl_naive_bayes(x, y, epsilon=1.0, lower=[0.0] * 10, upper=[1.0] * 10, n_classes=2, noise_seed=9)
    assert model.privacy["epsilon"] == 1.0
    assert model.weights["theta"].shape == (2, 10)
    assert model.metrics["accuracy"] > model.metrics["majority_class_accuracy"] + 0.1


def test_pure_dp_models_refuse_epsilon_above_cap() -> None:
    x, y = planted_classification(n=200, seed=8)
    with pytest.raises(PrivacyParametersRefusedError):
        train_dpl_logistic(x, y, epsilon=20.0, data_norm=3.2)
