"""The DP-SGD classifier: truthful accounting, useful accuracy under epsilon = 3, cancellation, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from governance.training.ml.artifacts import load_weights, weights_to_bytes
from governance.training.ml.classifier import train_classifier
from governance.training.ml.dpsgd import DPSGDConfig, Progress, TrainingHooks, prepare_module
from governance.training.ml.limits import PrivacyParametersRefusedError
from governance.training.ml.result import TrainedModel
from tests.training.synthetic import planted_classification

TARGET_EPSILON = 3.0
DELTA = 1e-5


def config(**overrides: object) -> DPSGDConfig:
    values: dict[str, object] = {
        "target_epsilon": TARGET_EPSILON,
        "target_delta": DELTA,
        "epochs": 5,
        "batch_size": 256,
        "max_grad_norm": 1.0,
        "learning_rate": 0.02,
        "seed": 1,
        "noise_seed": 2,
    }
    values.update(overrides)
    return DPSGDConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def progress_seen() -> list[Progress]:
    return []


@pytest.fixture(scope="module")
def trained(progress_seen: list[Progress]) -> TrainedModel:
    x, y = planted_classification(n=4000, seed=0)
    return train_classifier(x, y, n_classes=2, config=config(), hooks=TrainingHooks(progress=progress_seen.append))


def independent_epsilon(report: dict, accountant: str) -> float:
    """What Opacus's own accountant says for the report's numbers, without going through our code."""
    from opacus.accountants import PRVAccountant, RDPAccountant

    acct = PRVAccountant() if accountant == "prv" else RDPAccountant()
    for _ in range(report["steps"]):
        acct.step(noise_multiplier=report["noise_multiplier"], sample_rate=report["sample_rate"])
    if accountant == "rdp":
        from governance.training.ml.accounting import RDP_ORDERS

        return acct.get_epsilon(delta=report["delta"], alphas=RDP_ORDERS)
    return acct.get_epsilon(delta=report["delta"])


def test_reported_epsilon_is_what_opacus_computes_and_within_target(trained: TrainedModel) -> None:
    report = trained.privacy
    assert report["accountant"] == "prv"
    assert report["steps"] == report["planned_steps"] > 0
    assert report["epsilon"] == pytest.approx(independent_epsilon(report, "prv"), abs=1e-6)
    assert report["epsilon"] <= TARGET_EPSILON
    # the RDP cross-check is reported beside it, and is the looser bound
    assert report["epsilon_rdp"] == pytest.approx(independent_epsilon(report, "rdp"), abs=1e-6)
    assert report["epsilon_rdp"] >= report["epsilon_prv"] == report["epsilon"]
    assert report["delta"] == DELTA
    assert report["sampling"] == "poisson"
    assert report["unit_of_privacy"] == "example"
    assert "n_examples" not in report  # the exact training-set size is never reported
    assert report["public_examples"] == 3200  # no public size given: this library call falls back to N
    assert report["gradient_normalizer"] == report["expected_batch_size"] == config().batch_size
    assert report["noise_multiplier"] > 0.5


def test_planted_signal_is_learned_under_epsilon_3(trained: TrainedModel) -> None:
    # seed 1 / noise seed 2 reach about 0.87 accuracy and 0.96 AUC; the chance level is about 0.50
    assert trained.metrics["accuracy"] >= 0.80
    assert trained.metrics["auc"] >= 0.88
    assert trained.metrics["majority_class_accuracy"] < 0.6


def test_progress_reports_each_epoch_with_growing_epsilon(trained: TrainedModel, progress_seen: list[Progress]) -> None:
    assert [p.epoch for p in progress_seen] == [1, 2, 3, 4, 5]
    spent = [p.epsilon_spent for p in progress_seen]
    assert spent == sorted(spent)
    assert spent[-1] == pytest.approx(trained.privacy["epsilon"], abs=1e-9)
    assert all(np.isfinite(p.loss) for p in progress_seen)


def test_weights_round_trip_through_safetensors(trained: TrainedModel) -> None:
    blob = weights_to_bytes(trained.weights, architecture=trained.architecture, kind=trained.kind)
    loaded = load_weights(blob)
    assert set(loaded) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    for name, tensor in trained.weights.items():
        np.testing.assert_array_equal(loaded[name], tensor)


def test_cancellation_stops_between_steps_and_reports_what_was_spent() -> None:
    x, y = planted_classification(n=1000, seed=3)
    steps_seen = []

    def stop_after_three() -> bool:
        steps_seen.append(1)
        return len(steps_seen) >= 3

    model = train_classifier(
        x, y, n_classes=2, config=config(epochs=3, batch_size=100), hooks=TrainingHooks(should_stop=stop_after_three)
    )
    report = model.privacy
    assert model.stopped_early
    assert report["stopped_early"]
    assert report["steps"] == 3 < report["planned_steps"]
    assert report["epsilon"] == pytest.approx(independent_epsilon(report, "prv"), abs=1e-6)
    assert 0 < report["epsilon"] < TARGET_EPSILON


def test_delta_above_one_over_ten_n_is_refused_before_training() -> None:
    x, y = planted_classification(n=500, seed=4)
    with pytest.raises(PrivacyParametersRefusedError) as raised:
        train_classifier(x, y, n_classes=2, config=config(target_delta=1e-3))  # N_train = 400 -> max 2.5e-4
    assert [r.code for r in raised.value.refusals] == ["delta_too_large"]


def test_epsilon_above_cap_is_refused_before_training() -> None:
    x, y = planted_classification(n=500, seed=4)
    with pytest.raises(PrivacyParametersRefusedError):
        train_classifier(x, y, n_classes=2, config=config(target_epsilon=12.0, target_delta=1e-4))


def test_module_validator_fixes_batch_norm() -> None:
    from torch import nn

    module, fixes = prepare_module(nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2)))
    assert fixes
    assert "BatchNorm" in fixes[0]
    assert not any(isinstance(layer, nn.BatchNorm1d) for layer in module.modules())


def test_malformed_input_is_a_value_error() -> None:
    x, y = planted_classification(n=100, seed=5)
    with pytest.raises(ValueError, match="labels"):
        train_classifier(x, y + 5, n_classes=2, config=config(target_delta=1e-4))
    with pytest.raises(ValueError, match="N x d"):
        train_classifier(x[:, 0], y, n_classes=2, config=config(target_delta=1e-4))


def _optimizer_normalizer(n: int, *, public_examples: int | None) -> tuple[float, float]:
    """The DP optimizer's gradient normalizer and sample rate when training on n examples (one step)."""
    import torch
    from torch.nn import functional as F
    from torch.utils.data import TensorDataset

    from governance.training.ml.classifier import build_classifier_module
    from governance.training.ml.dpsgd import train_dp_sgd

    seen: dict[str, float] = {}

    def loss_fn(model, batch):
        xb, yb = batch
        return F.cross_entropy(model(xb), yb)

    def stop() -> bool:
        return True

    x, y = planted_classification(n=n, seed=3)
    dataset = TensorDataset(torch.from_numpy(x.astype("float32")), torch.from_numpy(y.astype("int64")))
    module = build_classifier_module(n_features=x.shape[1], n_classes=2, hidden_units=0)
    extra = {} if public_examples is None else {"public_examples": public_examples}
    cfg = config(batch_size=256, epochs=1, **extra)
    _, outcome = train_dp_sgd(module, dataset, loss_fn, cfg, TrainingHooks(should_stop=stop))
    seen["normalizer"] = outcome.expected_batch_size
    seen["q"] = outcome.sample_rate
    return seen["normalizer"], seen["q"]


def test_gradient_normalizer_and_sample_rate_do_not_depend_on_the_private_dataset_size() -> None:
    """Opacus issue #819: Opacus divides by int(N * q), which is 255 for N = 1023 and 256 for N = 1024 at
    batch 256 (q = 1/4): neighbouring datasets were normalized differently. Now both use the spec's public
    expected batch size, and q comes from the public size (in jobs a DP count) rather than from N."""
    assert _optimizer_normalizer(1023, public_examples=None)[0] == _optimizer_normalizer(1024, public_examples=None)[0]
    assert _optimizer_normalizer(1023, public_examples=1000) == _optimizer_normalizer(1024, public_examples=1000)
    normalizer, q = _optimizer_normalizer(1023, public_examples=1000)
    assert normalizer == 256
    assert q == 0.25
