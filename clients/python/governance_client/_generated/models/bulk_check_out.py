from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.bulk_check_out_results import BulkCheckOutResults


T = TypeVar("T", bound="BulkCheckOut")


@_attrs_define
class BulkCheckOut:
    """
    Attributes:
        purpose (str):
        results (BulkCheckOutResults):
    """

    purpose: str
    results: BulkCheckOutResults
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        purpose = self.purpose

        results = self.results.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "purpose": purpose,
                "results": results,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.bulk_check_out_results import BulkCheckOutResults  # noqa: PLC0415

        d = dict(src_dict)
        purpose = d.pop("purpose")

        results = BulkCheckOutResults.from_dict(d.pop("results"))

        bulk_check_out = cls(
            purpose=purpose,
            results=results,
        )

        bulk_check_out.additional_properties = d
        return bulk_check_out

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
