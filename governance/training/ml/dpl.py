"""``dpl_logistic`` and ``dpl_naive_bayes``: diffprivlib models for light tasks (pure epsilon-DP, delta = 0).

Bounds are always supplied by the caller from public knowledge (the dataset spec's generalization, the policy);
they are never derived from the data, which would leak outside the guarantee (diffprivlib warns when it has to).
One row is one person (unit of privacy: example).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from governance.training.ml.classifier import classification_metrics
from governance.training.ml.limits import DEFAULT_EPSILON_CAP, require_acceptable
from governance.training.ml.result import TrainedModel

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np

__all__ = ["train_dpl_logistic", "train_dpl_naive_bayes"]


def train_dpl_logistic(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    epsilon: float,
    data_norm: float,
    seed: int = 0,
    noise_seed: int | None = None,
    test_fraction: float = 0.2,
    epsilon_cap: float = DEFAULT_EPSILON_CAP,
    max_iter: int = 100,
) -> TrainedModel:
    """Binary logistic regression (objective perturbation) on rows clipped to L2 norm ``data_norm``.

    ``noise_seed=None`` uses diffprivlib's secure generator (``secrets``); a fixed one is for tests only.
    """
    # deferred: heavy: diffprivlib stays out of web workers
    from diffprivlib.accountant import BudgetAccountant
    from diffprivlib.models import LogisticRegression

    if not data_norm > 0:
        raise ValueError("data_norm must be a positive public bound on each row's L2 norm")
    x_train, x_test, y_train, y_test = _split(features, labels, n_classes=2, seed=seed, test_fraction=test_fraction)
    require_acceptable(
        epsilon=epsilon, delta=0.0, n_examples=len(y_train), epsilon_cap=epsilon_cap, delta_required=False
    )
    accountant = BudgetAccountant()
    model = LogisticRegression(
        epsilon=epsilon, data_norm=data_norm, random_state=noise_seed, accountant=accountant, max_iter=max_iter
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # diffprivlib 0.6.6 still passes `iprint` to SciPy's L-BFGS-B, deprecated in SciPy 1.15: not ours to fix.
        warnings.filterwarnings("ignore", message=".*`disp` and `iprint` options", category=DeprecationWarning)
        model.fit(x_train, y_train)
    notes = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return _result(
        kind="dpl_logistic",
        architecture={
            "type": "logistic",
            "n_features": x_train.shape[1],
            "n_classes": 2,
            "data_norm": float(data_norm),
        },
        weights={"coef": model.coef_, "intercept": model.intercept_},
        probabilities=model.predict_proba(x_test),
        y_test=y_test,
        n_classes=2,
        accountant=accountant,
        epsilon=epsilon,
        mechanism="diffprivlib LogisticRegression (objective perturbation, Chaudhuri et al. 2011)",
        bounds={"data_norm": float(data_norm)},
        seed=seed,
        noise_seed=noise_seed,
        n_train=len(y_train),
        notes=notes,
    )


def train_dpl_naive_bayes(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    epsilon: float,
    lower: Sequence[float],
    upper: Sequence[float],
    n_classes: int,
    seed: int = 0,
    noise_seed: int | None = None,
    test_fraction: float = 0.2,
    epsilon_cap: float = DEFAULT_EPSILON_CAP,
) -> TrainedModel:
    """Gaussian naive Bayes with features clipped to the public per-column ``[lower, upper]`` bounds.

    The class list is ``range(n_classes)`` (public), never the labels present in the data.
    """
    # deferred: heavy: numpy and diffprivlib stay out of web workers
    import numpy as np
    from diffprivlib.accountant import BudgetAccountant
    from diffprivlib.models import GaussianNB

    lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    x_train, x_test, y_train, y_test = _split(
        features, labels, n_classes=n_classes, seed=seed, test_fraction=test_fraction
    )
    if lo.shape != (x_train.shape[1],) or hi.shape != lo.shape or np.any(hi <= lo):
        raise ValueError("bounds must give lower < upper for every feature column")
    require_acceptable(
        epsilon=epsilon, delta=0.0, n_examples=len(y_train), epsilon_cap=epsilon_cap, delta_required=False
    )
    accountant = BudgetAccountant()
    model = GaussianNB(epsilon=epsilon, bounds=(lo, hi), random_state=noise_seed, accountant=accountant)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.partial_fit(x_train, y_train, classes=np.arange(n_classes))
    notes = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return _result(
        kind="dpl_naive_bayes",
        architecture={"type": "gaussian_naive_bayes", "n_features": x_train.shape[1], "n_classes": n_classes},
        weights={"theta": model.theta_, "var": model.var_, "class_prior": model.class_prior_},
        probabilities=model.predict_proba(x_test),
        y_test=y_test,
        n_classes=n_classes,
        accountant=accountant,
        epsilon=epsilon,
        mechanism="diffprivlib GaussianNB (Vaidya et al. 2013)",
        bounds={"lower": lo.tolist(), "upper": hi.tolist()},
        seed=seed,
        noise_seed=noise_seed,
        n_train=len(y_train),
        notes=notes,
    )


def _split(
    features: np.ndarray, labels: np.ndarray, *, n_classes: int, seed: int, test_fraction: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # deferred: heavy: numpy and scikit-learn stay out of web workers
    import numpy as np
    from sklearn.model_selection import train_test_split

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if x.ndim != 2 or y.shape != (x.shape[0],) or not np.all(np.isfinite(x)):
        raise ValueError("features must be a finite N x d array and labels of length N")
    if y.min(initial=0) < 0 or y.max(initial=0) >= n_classes:
        raise ValueError("labels must be integers in [0, n_classes)")
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min(initial=0) >= 2 else None
    return train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=stratify)


def _result(
    *,
    kind: str,
    architecture: dict[str, Any],
    weights: dict[str, Any],
    probabilities: Any,
    y_test: Any,
    n_classes: int,
    accountant: Any,
    epsilon: float,
    mechanism: str,
    bounds: dict[str, Any],
    seed: int,
    noise_seed: int | None,
    n_train: int,
    notes: list[str],
) -> TrainedModel:
    # deferred: heavy: numpy stays out of web workers
    import numpy as np

    spent_epsilon, spent_delta = accountant.total()
    return TrainedModel(
        kind=kind,
        architecture=architecture,
        weights={name: np.asarray(value, dtype=np.float64).copy() for name, value in weights.items()},
        privacy={
            "mechanism": mechanism,
            "accountant": "diffprivlib BudgetAccountant (sequential composition)",
            "epsilon": float(spent_epsilon),
            "delta": float(spent_delta),
            "target_epsilon": epsilon,
            "bounds": bounds,
            "unit_of_privacy": "example",
            "noise_seed_fixed": noise_seed is not None,
        },
        metrics=classification_metrics(y_test, probabilities, n_classes=n_classes),
        unit_of_privacy="example",
        n_train=n_train,
        n_test=len(y_test),
        seed=seed,
        notes=notes,
    )
