"""``classifier``: a small MLP (or logistic regression when ``hidden_units=0``) trained with Opacus DP-SGD.

One row is one person (example-level DP equals person-level DP when the gateway emits one row per subject).
Features must already be encoded with PUBLIC bounds (see :func:`scale_with_bounds`): standardizing with the
data's own mean and spread would leak outside the DP guarantee.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from governance.training.ml.dpsgd import DPSGDConfig, TrainingHooks, train_dp_sgd
from governance.training.ml.limits import DEFAULT_EPSILON_CAP, require_acceptable
from governance.training.ml.result import TrainedModel

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np

__all__ = ["build_classifier_module", "scale_with_bounds", "train_classifier"]


def scale_with_bounds(features: np.ndarray, lower: Sequence[float], upper: Sequence[float]) -> np.ndarray:
    """Clip each column to its public [lower, upper] bound and map it to [0, 1]."""
    # deferred: heavy: numpy stays out of web workers
    import numpy as np

    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    if lo.shape != hi.shape or lo.shape != (features.shape[1],) or np.any(hi <= lo):
        raise ValueError("bounds must give lower < upper for every feature column")
    return (np.clip(features, lo, hi) - lo) / (hi - lo)


def build_classifier_module(*, n_features: int, n_classes: int, hidden_units: int) -> Any:
    """The classifier network: Linear-ReLU-Linear, or a single Linear layer (logistic regression)."""
    # deferred: heavy: torch stays out of web workers
    from torch import nn

    if hidden_units <= 0:
        return nn.Sequential(nn.Linear(n_features, n_classes))
    return nn.Sequential(nn.Linear(n_features, hidden_units), nn.ReLU(), nn.Linear(hidden_units, n_classes))


def train_classifier(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    n_classes: int,
    config: DPSGDConfig,
    hidden_units: int = 32,
    test_fraction: float = 0.2,
    epsilon_cap: float = DEFAULT_EPSILON_CAP,
    hooks: TrainingHooks | None = None,
) -> TrainedModel:
    """Train a DP classifier on ``features`` (N x d floats, publicly bounded) and ``labels`` (ints < n_classes).

    A stratified ``test_fraction`` of rows (chosen by ``config.seed``) is held out for accuracy and AUC.
    Raises :class:`~governance.training.ml.limits.PrivacyParametersRefusedError` when epsilon exceeds the cap or
    delta exceeds 1/(10 N_train), and ``ValueError`` on malformed arrays.
    """
    # deferred: heavy: numpy, torch and scikit-learn stay out of web workers
    import numpy as np
    import torch
    from sklearn.model_selection import train_test_split
    from torch.nn import functional as F
    from torch.utils.data import TensorDataset

    x = np.asarray(features, dtype=np.float32)
    y = np.asarray(labels, dtype=np.int64)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError("features must be N x d and labels of length N")
    if n_classes < 2 or y.min(initial=0) < 0 or y.max(initial=0) >= n_classes:
        raise ValueError("labels must be integers in [0, n_classes) with n_classes >= 2")
    if not np.all(np.isfinite(x)):
        raise ValueError("features must be finite")
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min(initial=0) >= 2 else None
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=config.seed, stratify=stratify
    )
    require_acceptable(
        epsilon=config.target_epsilon,
        delta=config.target_delta,
        n_examples=len(y_train),
        epsilon_cap=epsilon_cap,
    )

    def loss_fn(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        xb, yb = batch
        return F.cross_entropy(model(xb), yb)

    architecture = {"n_features": x.shape[1], "n_classes": n_classes, "hidden_units": max(hidden_units, 0)}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        module = build_classifier_module(**architecture)
        dataset = TensorDataset(torch.from_numpy(x_train), torch.from_numpy(y_train))
        trained, outcome = train_dp_sgd(module, dataset, loss_fn, config, hooks)
        with torch.no_grad():
            probabilities = torch.softmax(trained(torch.from_numpy(x_test)), dim=1).numpy()

    return TrainedModel(
        kind="classifier",
        architecture={"type": "mlp" if hidden_units > 0 else "logistic", **architecture},
        weights={name: t.detach().cpu().numpy().copy() for name, t in trained.state_dict().items()},
        privacy={**outcome.as_dict(), "mechanism": "DP-SGD (Opacus)", "unit_of_privacy": "example"},
        metrics=classification_metrics(y_test, probabilities, n_classes=n_classes),
        unit_of_privacy="example",
        n_train=len(y_train),
        n_test=len(y_test),
        seed=config.seed,
        stopped_early=outcome.stopped_early,
        timings=outcome.timings,
    )


def classification_metrics(y_true: np.ndarray, probabilities: np.ndarray, *, n_classes: int) -> dict[str, Any]:
    """Accuracy and ROC AUC (one-vs-rest macro for more than two classes; ``None`` when a class is missing)."""
    # deferred: heavy: numpy and scikit-learn stay out of web workers
    import numpy as np
    from sklearn.metrics import accuracy_score, roc_auc_score

    predicted = probabilities.argmax(axis=1)
    auc: float | None = None
    if len(np.unique(y_true)) == n_classes:
        if n_classes == 2:
            auc = float(roc_auc_score(y_true, probabilities[:, 1]))
        else:
            auc = float(roc_auc_score(y_true, probabilities, multi_class="ovr", labels=list(range(n_classes))))
    return {
        "accuracy": float(accuracy_score(y_true, predicted)),
        "auc": auc,
        "n_test": len(y_true),
        "majority_class_accuracy": float(np.bincount(y_true, minlength=n_classes).max() / max(len(y_true), 1)),
    }
