from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.profile_body_fields import ProfileBodyFields


T = TypeVar("T", bound="ProfileBody")


@_attrs_define
class ProfileBody:
    """
    Attributes:
        fields (ProfileBodyFields): field name → new value; null deletes the field
    """

    fields: ProfileBodyFields

    def to_dict(self) -> dict[str, Any]:
        fields = self.fields.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "fields": fields,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.profile_body_fields import ProfileBodyFields  # noqa: PLC0415

        d = dict(src_dict)
        fields = ProfileBodyFields.from_dict(d.pop("fields"))

        profile_body = cls(
            fields=fields,
        )

        return profile_body
