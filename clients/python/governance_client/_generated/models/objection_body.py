from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ObjectionBody")


@_attrs_define
class ObjectionBody:
    """
    Attributes:
        purposes (list[str]):
        lift (bool | Unset): withdraw an earlier objection instead Default: False.
    """

    purposes: list[str]
    lift: bool | Unset = False

    def to_dict(self) -> dict[str, Any]:
        purposes = self.purposes

        lift = self.lift

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "purposes": purposes,
            }
        )
        if lift is not UNSET:
            field_dict["lift"] = lift

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        purposes = cast(list[str], d.pop("purposes"))

        lift = d.pop("lift", UNSET)

        objection_body = cls(
            purposes=purposes,
            lift=lift,
        )

        return objection_body
