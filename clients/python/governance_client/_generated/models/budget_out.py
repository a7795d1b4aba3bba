from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.budget_out_client_type_0 import BudgetOutClientType0
    from ..models.budget_out_purpose import BudgetOutPurpose


T = TypeVar("T", bound="BudgetOut")


@_attrs_define
class BudgetOut:
    """
    Attributes:
        purpose (BudgetOutPurpose):
        client (BudgetOutClientType0 | None | Unset):
    """

    purpose: BudgetOutPurpose
    client: BudgetOutClientType0 | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.budget_out_client_type_0 import BudgetOutClientType0  # noqa: PLC0415

        purpose = self.purpose.to_dict()

        client: dict[str, Any] | None | Unset
        if isinstance(self.client, Unset):
            client = UNSET
        elif isinstance(self.client, BudgetOutClientType0):
            client = self.client.to_dict()
        else:
            client = self.client

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "purpose": purpose,
            }
        )
        if client is not UNSET:
            field_dict["client"] = client

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.budget_out_client_type_0 import BudgetOutClientType0  # noqa: PLC0415
        from ..models.budget_out_purpose import BudgetOutPurpose  # noqa: PLC0415

        d = dict(src_dict)
        purpose = BudgetOutPurpose.from_dict(d.pop("purpose"))

        def _parse_client(data: object) -> BudgetOutClientType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                client_type_0 = BudgetOutClientType0.from_dict(data)

                return client_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(BudgetOutClientType0 | None | Unset, data)

        client = _parse_client(d.pop("client", UNSET))

        budget_out = cls(
            purpose=purpose,
            client=client,
        )

        budget_out.additional_properties = d
        return budget_out

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
