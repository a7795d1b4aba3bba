"""User-level DP recommender: one example per person, beats popularity at epsilon = 8, no per-user weights."""

from __future__ import annotations

import pytest

from governance.training.ml.dpsgd import DPSGDConfig
from governance.training.ml.recommender import split_histories, train_recommender
from governance.training.ml.result import TrainedModel
from tests.training.synthetic import planted_histories

N_USERS = 1000
N_ITEMS = 200


def config(**overrides: object) -> DPSGDConfig:
    values: dict[str, object] = {
        "target_epsilon": 8.0,
        "target_delta": 1.0 / (20 * N_USERS),
        "epochs": 8,
        "batch_size": 100,
        "max_grad_norm": 1.0,
        "learning_rate": 0.05,
        "seed": 0,
        "noise_seed": 1,
    }
    values.update(overrides)
    return DPSGDConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained() -> TrainedModel:
    return train_recommender(planted_histories(N_USERS, N_ITEMS, seed=0), n_items=N_ITEMS, config=config())


def test_beats_popularity_on_precision_at_10_under_epsilon_8(trained: TrainedModel) -> None:
    model, baseline = trained.metrics["model"], trained.metrics["popularity_baseline"]
    # seed 0 / noise seed 1: about 0.11 against 0.033 for popularity
    assert model["precision_at_10"] >= 2.0 * baseline["precision_at_10"]
    assert model["recall_at_10"] > baseline["recall_at_10"]
    assert model["users_evaluated"] == baseline["users_evaluated"] == N_USERS


def test_guarantee_is_per_person(trained: TrainedModel) -> None:
    report = trained.privacy
    assert trained.unit_of_privacy == report["unit_of_privacy"] == "user"
    assert "n_examples" not in report  # the exact size is not reported
    assert report["public_examples"] == N_USERS  # no public size given here: one example per person
    assert report["max_interactions_per_user"] == 50
    assert report["epsilon"] <= 8.0
    assert report["delta"] <= 1.0 / (10 * N_USERS)


def test_weights_hold_no_per_user_parameters(trained: TrainedModel) -> None:
    # every shape is fixed by the catalogue size and the embedding dimension, none by the number of people
    shapes = {name: tensor.shape for name, tensor in trained.weights.items()}
    assert shapes == {
        "1.weight": (32, N_ITEMS),
        "1.bias": (32,),
        "3.weight": (N_ITEMS, 32),
        "3.bias": (N_ITEMS,),
    }


def test_histories_are_bounded_to_m_most_recent_distinct_items() -> None:
    split = split_histories([[1, 2, 3, 2, 4, 5, 6, 7], [9], []], n_items=10, max_interactions=4, holdout_fraction=0.25)
    assert split.train == [[4, 5, 6], [9]]
    assert split.held_out == [[7], []]
    with pytest.raises(ValueError, match="catalogue"):
        split_histories([[10]], n_items=10, max_interactions=4, holdout_fraction=0.2)
