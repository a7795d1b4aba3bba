"""Synthetic data sets with a planted signal, fixed seeds."""

from __future__ import annotations

import numpy as np


def planted_classification(n: int = 4000, d: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features uniform in [0, 1]; the label depends on three of them through a logistic link."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (n, d))
    weights = np.zeros(d)
    weights[:3] = [4.0, -3.0, 2.0]
    logits = 3.0 * (x - 0.5) @ weights
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-logits))).astype(np.int64)
    return x.astype(np.float32), y


def planted_histories(n_users: int = 2000, n_items: int = 200, n_groups: int = 10, seed: int = 0) -> list[list[int]]:
    """Each person belongs to a taste group: 80% of their items come from the group's block, 20% from a global
    Zipf popularity, so a model that learns item co-occurrence beats popularity."""
    rng = np.random.default_rng(seed)
    per_group = n_items // n_groups
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity = rng.permutation(popularity / popularity.sum())
    histories = []
    for _ in range(n_users):
        group = int(rng.integers(n_groups))
        length = int(rng.integers(8, 25))
        in_group = rng.uniform(size=length) < 0.8
        items = np.where(
            in_group,
            group * per_group + rng.integers(per_group, size=length),
            rng.choice(n_items, size=length, p=popularity),
        )
        histories.append([int(i) for i in items])
    return histories
