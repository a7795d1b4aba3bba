"""What every trainer returns: weights (plain arrays, no ids), architecture, privacy report and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np

__all__ = ["TrainedModel"]

UnitOfPrivacy = Literal["example", "user"]


@dataclass
class TrainedModel:
    """A trained model, ready for :func:`governance.training.ml.artifacts.weights_to_bytes` and a model card.

    ``weights`` maps tensor names to float arrays whose shapes depend on the architecture only (never on the
    number of people). ``privacy`` is the privacy report (see docs/training.md); ``metrics`` are held-out metrics.
    """

    kind: str
    architecture: dict[str, Any]
    weights: dict[str, np.ndarray]
    privacy: dict[str, Any]
    metrics: dict[str, Any]
    unit_of_privacy: UnitOfPrivacy
    n_train: int
    n_test: int
    seed: int
    stopped_early: bool = False
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
