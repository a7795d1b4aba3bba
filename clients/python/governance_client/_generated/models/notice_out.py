from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="NoticeOut")


@_attrs_define
class NoticeOut:
    """
    Attributes:
        published (str):
        renewal_from_version (int | None):
        sha256 (str):
        version (int):
    """

    published: str
    renewal_from_version: int | None
    sha256: str
    version: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        published = self.published

        renewal_from_version: int | None
        renewal_from_version = self.renewal_from_version

        sha256 = self.sha256

        version = self.version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "published": published,
                "renewal_from_version": renewal_from_version,
                "sha256": sha256,
                "version": version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        published = d.pop("published")

        def _parse_renewal_from_version(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        renewal_from_version = _parse_renewal_from_version(d.pop("renewal_from_version"))

        sha256 = d.pop("sha256")

        version = d.pop("version")

        notice_out = cls(
            published=published,
            renewal_from_version=renewal_from_version,
            sha256=sha256,
            version=version,
        )

        notice_out.additional_properties = d
        return notice_out

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
