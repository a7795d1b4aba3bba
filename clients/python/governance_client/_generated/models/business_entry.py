from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="BusinessEntry")


@_attrs_define
class BusinessEntry:
    """
    Attributes:
        api_base (str):
        drp_version (str):
        id (str):
        name (str):
        supported_actions (list[str]):
        supported_verifications (list[str]):
        privacy_policy_url (None | str | Unset):
    """

    api_base: str
    drp_version: str
    id: str
    name: str
    supported_actions: list[str]
    supported_verifications: list[str]
    privacy_policy_url: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        api_base = self.api_base

        drp_version = self.drp_version

        id = self.id

        name = self.name

        supported_actions = self.supported_actions

        supported_verifications = self.supported_verifications

        privacy_policy_url: None | str | Unset
        if isinstance(self.privacy_policy_url, Unset):
            privacy_policy_url = UNSET
        else:
            privacy_policy_url = self.privacy_policy_url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "api_base": api_base,
                "drp_version": drp_version,
                "id": id,
                "name": name,
                "supported_actions": supported_actions,
                "supported_verifications": supported_verifications,
            }
        )
        if privacy_policy_url is not UNSET:
            field_dict["privacy_policy_url"] = privacy_policy_url

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        api_base = d.pop("api_base")

        drp_version = d.pop("drp_version")

        id = d.pop("id")

        name = d.pop("name")

        supported_actions = cast(list[str], d.pop("supported_actions"))

        supported_verifications = cast(list[str], d.pop("supported_verifications"))

        def _parse_privacy_policy_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        privacy_policy_url = _parse_privacy_policy_url(d.pop("privacy_policy_url", UNSET))

        business_entry = cls(
            api_base=api_base,
            drp_version=drp_version,
            id=id,
            name=name,
            supported_actions=supported_actions,
            supported_verifications=supported_verifications,
            privacy_policy_url=privacy_policy_url,
        )

        business_entry.additional_properties = d
        return business_entry

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
