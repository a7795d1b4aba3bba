from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.notice_out import NoticeOut


T = TypeVar("T", bound="PurposeOut")


@_attrs_define
class PurposeOut:
    """
    Attributes:
        description (str):
        event_categories (list[str]):
        key (str):
        legal_basis (str):
        max_consent_age_days (int | None):
        notice (NoticeOut):
        profile_fields (list[str]):
        retention_days (int | None):
        sale_or_sharing (bool):
        title (str):
    """

    description: str
    event_categories: list[str]
    key: str
    legal_basis: str
    max_consent_age_days: int | None
    notice: NoticeOut
    profile_fields: list[str]
    retention_days: int | None
    sale_or_sharing: bool
    title: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        description = self.description

        event_categories = self.event_categories

        key = self.key

        legal_basis = self.legal_basis

        max_consent_age_days: int | None
        max_consent_age_days = self.max_consent_age_days

        notice = self.notice.to_dict()

        profile_fields = self.profile_fields

        retention_days: int | None
        retention_days = self.retention_days

        sale_or_sharing = self.sale_or_sharing

        title = self.title

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "description": description,
                "event_categories": event_categories,
                "key": key,
                "legal_basis": legal_basis,
                "max_consent_age_days": max_consent_age_days,
                "notice": notice,
                "profile_fields": profile_fields,
                "retention_days": retention_days,
                "sale_or_sharing": sale_or_sharing,
                "title": title,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.notice_out import NoticeOut  # noqa: PLC0415

        d = dict(src_dict)
        description = d.pop("description")

        event_categories = cast(list[str], d.pop("event_categories"))

        key = d.pop("key")

        legal_basis = d.pop("legal_basis")

        def _parse_max_consent_age_days(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        max_consent_age_days = _parse_max_consent_age_days(d.pop("max_consent_age_days"))

        notice = NoticeOut.from_dict(d.pop("notice"))

        profile_fields = cast(list[str], d.pop("profile_fields"))

        def _parse_retention_days(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        retention_days = _parse_retention_days(d.pop("retention_days"))

        sale_or_sharing = d.pop("sale_or_sharing")

        title = d.pop("title")

        purpose_out = cls(
            description=description,
            event_categories=event_categories,
            key=key,
            legal_basis=legal_basis,
            max_consent_age_days=max_consent_age_days,
            notice=notice,
            profile_fields=profile_fields,
            retention_days=retention_days,
            sale_or_sharing=sale_or_sharing,
            title=title,
        )

        purpose_out.additional_properties = d
        return purpose_out

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
