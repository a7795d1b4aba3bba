from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="PrivacyIn")


@_attrs_define
class PrivacyIn:
    """
    Attributes:
        delta (float): target delta: at most 1/(10 N); 0 for the diffprivlib kinds
        epsilon (float): target epsilon (at most the policy cap, default 10)
    """

    delta: float
    epsilon: float

    def to_dict(self) -> dict[str, Any]:
        delta = self.delta

        epsilon = self.epsilon

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "delta": delta,
                "epsilon": epsilon,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        delta = d.pop("delta")

        epsilon = d.pop("epsilon")

        privacy_in = cls(
            delta=delta,
            epsilon=epsilon,
        )

        return privacy_in
