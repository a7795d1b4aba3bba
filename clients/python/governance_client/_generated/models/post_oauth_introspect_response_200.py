from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="PostOauthIntrospectResponse200")


@_attrs_define
class PostOauthIntrospectResponse200:
    """
    Attributes:
        active (bool):
        client_id (str | Unset):
        exp (int | Unset):
        iat (int | Unset):
        scope (str | Unset):
        token_type (str | Unset):
    """

    active: bool
    client_id: str | Unset = UNSET
    exp: int | Unset = UNSET
    iat: int | Unset = UNSET
    scope: str | Unset = UNSET
    token_type: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        active = self.active

        client_id = self.client_id

        exp = self.exp

        iat = self.iat

        scope = self.scope

        token_type = self.token_type

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "active": active,
            }
        )
        if client_id is not UNSET:
            field_dict["client_id"] = client_id
        if exp is not UNSET:
            field_dict["exp"] = exp
        if iat is not UNSET:
            field_dict["iat"] = iat
        if scope is not UNSET:
            field_dict["scope"] = scope
        if token_type is not UNSET:
            field_dict["token_type"] = token_type

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        active = d.pop("active")

        client_id = d.pop("client_id", UNSET)

        exp = d.pop("exp", UNSET)

        iat = d.pop("iat", UNSET)

        scope = d.pop("scope", UNSET)

        token_type = d.pop("token_type", UNSET)

        post_oauth_introspect_response_200 = cls(
            active=active,
            client_id=client_id,
            exp=exp,
            iat=iat,
            scope=scope,
            token_type=token_type,
        )

        post_oauth_introspect_response_200.additional_properties = d
        return post_oauth_introspect_response_200

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
