from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.dp_query_out_result import DPQueryOutResult


T = TypeVar("T", bound="DPQueryOut")


@_attrs_define
class DPQueryOut:
    """
    Attributes:
        created_at (datetime.datetime):
        purpose (str):
        query_id (UUID):
        result (DPQueryOutResult):
        statistic (str):
    """

    created_at: datetime.datetime
    purpose: str
    query_id: UUID
    result: DPQueryOutResult
    statistic: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        purpose = self.purpose

        query_id = str(self.query_id)

        result = self.result.to_dict()

        statistic = self.statistic

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "purpose": purpose,
                "query_id": query_id,
                "result": result,
                "statistic": statistic,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.dp_query_out_result import DPQueryOutResult  # noqa: PLC0415

        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        purpose = d.pop("purpose")

        query_id = UUID(d.pop("query_id"))

        result = DPQueryOutResult.from_dict(d.pop("result"))

        statistic = d.pop("statistic")

        dp_query_out = cls(
            created_at=created_at,
            purpose=purpose,
            query_id=query_id,
            result=result,
            statistic=statistic,
        )

        dp_query_out.additional_properties = d
        return dp_query_out

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
