"""``recommender``: an item-to-item autoencoder over each person's bag of items, with USER-LEVEL DP-SGD.

One training example is one person's whole history, bounded to at most ``max_interactions`` distinct items, so
per-example clipping bounds what any single person can change: the (epsilon, delta) guarantee covers each person,
not each click. The weights are an item-embedding encoder and an item decoder: there are no per-user parameters
and no ids, and their shapes depend only on the item catalogue size and the embedding dimension. A person is
represented at inference time by the bag of their items (fold-in), like Mult-DAE (Liang et al., 2018).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from governance.training.ml.dpsgd import DPSGDConfig, TrainingHooks, train_dp_sgd
from governance.training.ml.limits import DEFAULT_EPSILON_CAP, require_acceptable
from governance.training.ml.result import TrainedModel

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np

__all__ = [
    "DEFAULT_MAX_INTERACTIONS",
    "SplitHistories",
    "build_recommender_module",
    "ranking_metrics",
    "split_histories",
    "train_recommender",
]

DEFAULT_MAX_INTERACTIONS = 50


@dataclass(frozen=True)
class SplitHistories:
    """Per person: the items used for training (the most recent ``M`` minus the held-out tail) and held out."""

    train: list[list[int]]
    held_out: list[list[int]]


def split_histories(
    histories: Sequence[Sequence[int]], *, n_items: int, max_interactions: int, holdout_fraction: float
) -> SplitHistories:
    """Bound each time-ordered history to its last ``max_interactions`` distinct items, then hold out its tail.

    People with fewer than two distinct items keep everything for training and have nothing held out. Item
    indices outside ``[0, n_items)`` raise ``ValueError``. People with no items are dropped.
    """
    if max_interactions < 1:
        raise ValueError("max_interactions must be at least 1")
    if not 0 <= holdout_fraction < 1:
        raise ValueError("holdout_fraction must be in [0, 1)")
    train: list[list[int]] = []
    held_out: list[list[int]] = []
    for history in histories:
        distinct = list(dict.fromkeys(int(i) for i in reversed(list(history))))[:max_interactions][::-1]
        if not distinct:
            continue
        if any(i < 0 or i >= n_items for i in distinct):
            raise ValueError("item index outside the catalogue")
        n_out = math.ceil(len(distinct) * holdout_fraction) if len(distinct) >= 2 else 0
        n_out = min(n_out, len(distinct) - 1)
        train.append(distinct[: len(distinct) - n_out])
        held_out.append(distinct[len(distinct) - n_out :])
    return SplitHistories(train=train, held_out=held_out)


class _Architecture(TypedDict):
    """What `build_recommender_module` takes, stored with the model (its `architecture`)."""

    n_items: int
    embedding_dim: int
    dropout: float


def build_recommender_module(*, n_items: int, embedding_dim: int, dropout: float) -> Any:
    """Bag of items -> dropout -> item embeddings (encoder) -> tanh -> scores for every item (decoder)."""
    # deferred: heavy: torch stays out of web workers
    from torch import nn

    return nn.Sequential(
        nn.Dropout(dropout),
        nn.Linear(n_items, embedding_dim),
        nn.Tanh(),
        nn.Linear(embedding_dim, n_items),
    )


def _bags(train: list[list[int]], n_items: int) -> np.ndarray:
    """Multi-hot rows, L2-normalized so every person's input has the same norm whatever their history length."""
    # deferred: heavy: numpy stays out of web workers
    import numpy as np

    bags = np.zeros((len(train), n_items), dtype=np.float32)
    for row, items in enumerate(train):
        bags[row, items] = 1.0
    norms = np.linalg.norm(bags, axis=1, keepdims=True)
    return bags / np.maximum(norms, 1.0)


def train_recommender(
    histories: Sequence[Sequence[int]],
    *,
    n_items: int,
    config: DPSGDConfig,
    max_interactions: int = DEFAULT_MAX_INTERACTIONS,
    embedding_dim: int = 32,
    dropout: float = 0.5,
    holdout_fraction: float = 0.2,
    k: int = 10,
    epsilon_cap: float = DEFAULT_EPSILON_CAP,
    hooks: TrainingHooks | None = None,
) -> TrainedModel:
    """Train a user-level DP recommender on per-person item histories (indices into a public catalogue).

    Reports precision@k and recall@k on each person's held-out items for the model and for a popularity
    baseline. Raises :class:`~governance.training.ml.limits.PrivacyParametersRefusedError` when epsilon exceeds
    the cap or delta exceeds 1/(10 N) for N people.
    """
    # deferred: heavy: numpy and torch stay out of web workers
    import numpy as np
    import torch
    from torch.nn import functional as F
    from torch.utils.data import TensorDataset

    if n_items < 2:
        raise ValueError("the catalogue needs at least two items")
    split = split_histories(
        histories, n_items=n_items, max_interactions=max_interactions, holdout_fraction=holdout_fraction
    )
    n_people = len(split.train)
    require_acceptable(
        epsilon=config.target_epsilon, delta=config.target_delta, n_examples=n_people, epsilon_cap=epsilon_cap
    )
    bags = _bags(split.train, n_items)
    targets = (bags > 0).astype(np.float32)

    def loss_fn(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        bag, target = batch
        log_probs = F.log_softmax(model(bag), dim=1)
        # Multinomial likelihood of the person's own items, averaged over their items: bounded per person.
        per_person = -(log_probs * target).sum(dim=1) / target.sum(dim=1).clamp(min=1.0)
        return per_person.mean()

    architecture = _Architecture(n_items=n_items, embedding_dim=embedding_dim, dropout=dropout)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        module = build_recommender_module(**architecture)
        dataset = TensorDataset(torch.from_numpy(bags), torch.from_numpy(targets))
        trained, outcome = train_dp_sgd(module, dataset, loss_fn, config, hooks)
        with torch.no_grad():
            scores = trained(torch.from_numpy(bags)).numpy()

    popularity = targets.sum(axis=0)
    model_metrics = ranking_metrics(scores, split.train, split.held_out, k=k)
    metrics = {
        "k": k,
        "model": model_metrics,
        "popularity_baseline": ranking_metrics(
            np.broadcast_to(popularity, scores.shape), split.train, split.held_out, k=k
        ),
    }
    return TrainedModel(
        kind="recommender",
        architecture={"type": "bag_of_items_autoencoder", **architecture, "max_interactions": max_interactions},
        weights={name: t.detach().cpu().numpy().copy() for name, t in trained.state_dict().items()},
        privacy={
            **outcome.as_dict(),
            "mechanism": "DP-SGD (Opacus), one example per person",
            "unit_of_privacy": "user",
            "max_interactions_per_user": max_interactions,
        },
        metrics=metrics,
        unit_of_privacy="user",
        n_train=n_people,
        n_test=int(model_metrics["users_evaluated"]),
        seed=config.seed,
        stopped_early=outcome.stopped_early,
        timings=outcome.timings,
    )


def ranking_metrics(
    scores: np.ndarray, train: list[list[int]], held_out: list[list[int]], *, k: int
) -> dict[str, float | int]:
    """Mean precision@k and recall@k over people with held-out items; their training items are never ranked."""
    # deferred: heavy: numpy stays out of web workers
    import numpy as np

    precisions: list[float] = []
    recalls: list[float] = []
    for row, (seen, hidden) in enumerate(zip(train, held_out, strict=True)):
        if not hidden:
            continue
        ranked = np.array(scores[row], dtype=np.float64)
        ranked[seen] = -np.inf
        top = np.argpartition(-ranked, k)[:k] if k < len(ranked) else np.arange(len(ranked))
        hits = len(set(top.tolist()) & set(hidden))
        precisions.append(hits / k)
        recalls.append(hits / len(hidden))
    return {
        f"precision_at_{k}": float(np.mean(precisions)) if precisions else 0.0,
        f"recall_at_{k}": float(np.mean(recalls)) if recalls else 0.0,
        "users_evaluated": len(precisions),
    }
