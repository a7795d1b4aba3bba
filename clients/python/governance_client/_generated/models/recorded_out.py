from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.receipt_out import ReceiptOut


T = TypeVar("T", bound="RecordedOut")


@_attrs_define
class RecordedOut:
    """
    Attributes:
        gpc_withdrawn (list[str]):
        receipts (list[ReceiptOut]):
        subject_id (UUID):
    """

    gpc_withdrawn: list[str]
    receipts: list[ReceiptOut]
    subject_id: UUID
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        gpc_withdrawn = self.gpc_withdrawn

        receipts = []
        for receipts_item_data in self.receipts:
            receipts_item = receipts_item_data.to_dict()
            receipts.append(receipts_item)

        subject_id = str(self.subject_id)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "gpc_withdrawn": gpc_withdrawn,
                "receipts": receipts,
                "subject_id": subject_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.receipt_out import ReceiptOut  # noqa: PLC0415

        d = dict(src_dict)
        gpc_withdrawn = cast(list[str], d.pop("gpc_withdrawn"))

        receipts = []
        _receipts = d.pop("receipts")
        for receipts_item_data in _receipts:
            receipts_item = ReceiptOut.from_dict(receipts_item_data)

            receipts.append(receipts_item)

        subject_id = UUID(d.pop("subject_id"))

        recorded_out = cls(
            gpc_withdrawn=gpc_withdrawn,
            receipts=receipts,
            subject_id=subject_id,
        )

        recorded_out.additional_properties = d
        return recorded_out

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
