from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.get_readyz_response_503_status import GetReadyzResponse503Status

if TYPE_CHECKING:
    from ..models.get_readyz_response_503_checks import GetReadyzResponse503Checks


T = TypeVar("T", bound="GetReadyzResponse503")


@_attrs_define
class GetReadyzResponse503:
    """
    Attributes:
        checks (GetReadyzResponse503Checks):
        status (GetReadyzResponse503Status):
    """

    checks: GetReadyzResponse503Checks
    status: GetReadyzResponse503Status
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        checks = self.checks.to_dict()

        status = self.status.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "checks": checks,
                "status": status,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.get_readyz_response_503_checks import GetReadyzResponse503Checks  # noqa: PLC0415

        d = dict(src_dict)
        checks = GetReadyzResponse503Checks.from_dict(d.pop("checks"))

        status = GetReadyzResponse503Status(d.pop("status"))

        get_readyz_response_503 = cls(
            checks=checks,
            status=status,
        )

        get_readyz_response_503.additional_properties = d
        return get_readyz_response_503

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
