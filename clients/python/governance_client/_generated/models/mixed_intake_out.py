from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.event_rejection_out import EventRejectionOut
    from ..models.mixed_intake_out_by_category import MixedIntakeOutByCategory


T = TypeVar("T", bound="MixedIntakeOut")


@_attrs_define
class MixedIntakeOut:
    """
    Attributes:
        accepted (int):
        by_category (MixedIntakeOutByCategory):
        duplicates (int):
        rejected (list[EventRejectionOut]):
        subjects (int):
    """

    accepted: int
    by_category: MixedIntakeOutByCategory
    duplicates: int
    rejected: list[EventRejectionOut]
    subjects: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        accepted = self.accepted

        by_category = self.by_category.to_dict()

        duplicates = self.duplicates

        rejected = []
        for rejected_item_data in self.rejected:
            rejected_item = rejected_item_data.to_dict()
            rejected.append(rejected_item)

        subjects = self.subjects

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "accepted": accepted,
                "by_category": by_category,
                "duplicates": duplicates,
                "rejected": rejected,
                "subjects": subjects,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.event_rejection_out import EventRejectionOut  # noqa: PLC0415
        from ..models.mixed_intake_out_by_category import MixedIntakeOutByCategory  # noqa: PLC0415

        d = dict(src_dict)
        accepted = d.pop("accepted")

        by_category = MixedIntakeOutByCategory.from_dict(d.pop("by_category"))

        duplicates = d.pop("duplicates")

        rejected = []
        _rejected = d.pop("rejected")
        for rejected_item_data in _rejected:
            rejected_item = EventRejectionOut.from_dict(rejected_item_data)

            rejected.append(rejected_item)

        subjects = d.pop("subjects")

        mixed_intake_out = cls(
            accepted=accepted,
            by_category=by_category,
            duplicates=duplicates,
            rejected=rejected,
            subjects=subjects,
        )

        mixed_intake_out.additional_properties = d
        return mixed_intake_out

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
