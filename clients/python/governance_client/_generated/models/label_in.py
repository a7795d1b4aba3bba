from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="LabelIn")


@_attrs_define
class LabelIn:
    """The label a classifier predicts: whether the person has an event of this category in the window.

    Attributes:
        event_category (str):
    """

    event_category: str

    def to_dict(self) -> dict[str, Any]:
        event_category = self.event_category

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "event_category": event_category,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        event_category = d.pop("event_category")

        label_in = cls(
            event_category=event_category,
        )

        return label_in
