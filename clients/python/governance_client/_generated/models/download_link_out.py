from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="DownloadLinkOut")


@_attrs_define
class DownloadLinkOut:
    """
    Attributes:
        expires_at (datetime.datetime):
        model_card_url (str):
        weights_sha256 (str):
        weights_url (str):
    """

    expires_at: datetime.datetime
    model_card_url: str
    weights_sha256: str
    weights_url: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        expires_at = self.expires_at.isoformat()

        model_card_url = self.model_card_url

        weights_sha256 = self.weights_sha256

        weights_url = self.weights_url

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "expires_at": expires_at,
                "model_card_url": model_card_url,
                "weights_sha256": weights_sha256,
                "weights_url": weights_url,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        expires_at = datetime.datetime.fromisoformat(d.pop("expires_at"))

        model_card_url = d.pop("model_card_url")

        weights_sha256 = d.pop("weights_sha256")

        weights_url = d.pop("weights_url")

        download_link_out = cls(
            expires_at=expires_at,
            model_card_url=model_card_url,
            weights_sha256=weights_sha256,
            weights_url=weights_url,
        )

        download_link_out.additional_properties = d
        return download_link_out

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
