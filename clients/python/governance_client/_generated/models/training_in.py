from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="TrainingIn")


@_attrs_define
class TrainingIn:
    """
    Attributes:
        batch_size (int | Unset): expected batch size under Poisson sampling Default: 256.
        embedding_dim (int | Unset):  Default: 32.
        epochs (int | Unset):  Default: 5.
        hidden_units (int | Unset):  Default: 32.
        holdout_fraction (float | Unset):  Default: 0.2.
        k (int | Unset):  Default: 10.
        learning_rate (float | None | Unset):
        max_grad_norm (float | Unset):  Default: 1.0.
        max_interactions (int | None | Unset): M: interactions per person (recommender)
        max_physical_batch_size (int | Unset):  Default: 256.
        seed (int | Unset):  Default: 0.
    """

    batch_size: int | Unset = 256
    embedding_dim: int | Unset = 32
    epochs: int | Unset = 5
    hidden_units: int | Unset = 32
    holdout_fraction: float | Unset = 0.2
    k: int | Unset = 10
    learning_rate: float | None | Unset = UNSET
    max_grad_norm: float | Unset = 1.0
    max_interactions: int | None | Unset = UNSET
    max_physical_batch_size: int | Unset = 256
    seed: int | Unset = 0

    def to_dict(self) -> dict[str, Any]:
        batch_size = self.batch_size

        embedding_dim = self.embedding_dim

        epochs = self.epochs

        hidden_units = self.hidden_units

        holdout_fraction = self.holdout_fraction

        k = self.k

        learning_rate: float | None | Unset
        if isinstance(self.learning_rate, Unset):
            learning_rate = UNSET
        else:
            learning_rate = self.learning_rate

        max_grad_norm = self.max_grad_norm

        max_interactions: int | None | Unset
        if isinstance(self.max_interactions, Unset):
            max_interactions = UNSET
        else:
            max_interactions = self.max_interactions

        max_physical_batch_size = self.max_physical_batch_size

        seed = self.seed

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if batch_size is not UNSET:
            field_dict["batch_size"] = batch_size
        if embedding_dim is not UNSET:
            field_dict["embedding_dim"] = embedding_dim
        if epochs is not UNSET:
            field_dict["epochs"] = epochs
        if hidden_units is not UNSET:
            field_dict["hidden_units"] = hidden_units
        if holdout_fraction is not UNSET:
            field_dict["holdout_fraction"] = holdout_fraction
        if k is not UNSET:
            field_dict["k"] = k
        if learning_rate is not UNSET:
            field_dict["learning_rate"] = learning_rate
        if max_grad_norm is not UNSET:
            field_dict["max_grad_norm"] = max_grad_norm
        if max_interactions is not UNSET:
            field_dict["max_interactions"] = max_interactions
        if max_physical_batch_size is not UNSET:
            field_dict["max_physical_batch_size"] = max_physical_batch_size
        if seed is not UNSET:
            field_dict["seed"] = seed

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        batch_size = d.pop("batch_size", UNSET)

        embedding_dim = d.pop("embedding_dim", UNSET)

        epochs = d.pop("epochs", UNSET)

        hidden_units = d.pop("hidden_units", UNSET)

        holdout_fraction = d.pop("holdout_fraction", UNSET)

        k = d.pop("k", UNSET)

        def _parse_learning_rate(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        learning_rate = _parse_learning_rate(d.pop("learning_rate", UNSET))

        max_grad_norm = d.pop("max_grad_norm", UNSET)

        def _parse_max_interactions(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_interactions = _parse_max_interactions(d.pop("max_interactions", UNSET))

        max_physical_batch_size = d.pop("max_physical_batch_size", UNSET)

        seed = d.pop("seed", UNSET)

        training_in = cls(
            batch_size=batch_size,
            embedding_dim=embedding_dim,
            epochs=epochs,
            hidden_units=hidden_units,
            holdout_fraction=holdout_fraction,
            k=k,
            learning_rate=learning_rate,
            max_grad_norm=max_grad_norm,
            max_interactions=max_interactions,
            max_physical_batch_size=max_physical_batch_size,
            seed=seed,
        )

        return training_in
