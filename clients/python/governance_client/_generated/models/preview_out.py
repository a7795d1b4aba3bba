from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.preview_out_budget import PreviewOutBudget
    from ..models.preview_out_expected_accuracy import PreviewOutExpectedAccuracy


T = TypeVar("T", bound="PreviewOut")


@_attrs_define
class PreviewOut:
    """
    Attributes:
        budget (PreviewOutBudget):
        cost (str):
        delta (str):
        epsilon (str):
        expected_accuracy (PreviewOutExpectedAccuracy):
        kind (str):
        neighbouring (str):
        purpose (str):
        unit_of_privacy (str):
    """

    budget: PreviewOutBudget
    cost: str
    delta: str
    epsilon: str
    expected_accuracy: PreviewOutExpectedAccuracy
    kind: str
    neighbouring: str
    purpose: str
    unit_of_privacy: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        budget = self.budget.to_dict()

        cost = self.cost

        delta = self.delta

        epsilon = self.epsilon

        expected_accuracy = self.expected_accuracy.to_dict()

        kind = self.kind

        neighbouring = self.neighbouring

        purpose = self.purpose

        unit_of_privacy = self.unit_of_privacy

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "budget": budget,
                "cost": cost,
                "delta": delta,
                "epsilon": epsilon,
                "expected_accuracy": expected_accuracy,
                "kind": kind,
                "neighbouring": neighbouring,
                "purpose": purpose,
                "unit_of_privacy": unit_of_privacy,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.preview_out_budget import PreviewOutBudget  # noqa: PLC0415
        from ..models.preview_out_expected_accuracy import PreviewOutExpectedAccuracy  # noqa: PLC0415

        d = dict(src_dict)
        budget = PreviewOutBudget.from_dict(d.pop("budget"))

        cost = d.pop("cost")

        delta = d.pop("delta")

        epsilon = d.pop("epsilon")

        expected_accuracy = PreviewOutExpectedAccuracy.from_dict(d.pop("expected_accuracy"))

        kind = d.pop("kind")

        neighbouring = d.pop("neighbouring")

        purpose = d.pop("purpose")

        unit_of_privacy = d.pop("unit_of_privacy")

        preview_out = cls(
            budget=budget,
            cost=cost,
            delta=delta,
            epsilon=epsilon,
            expected_accuracy=expected_accuracy,
            kind=kind,
            neighbouring=neighbouring,
            purpose=purpose,
            unit_of_privacy=unit_of_privacy,
        )

        preview_out.additional_properties = d
        return preview_out

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
