from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.receipt_out_receipt import ReceiptOutReceipt


T = TypeVar("T", bound="ReceiptOut")


@_attrs_define
class ReceiptOut:
    """
    Attributes:
        decision (str):
        jws (str): the receipt as a compact JWS
        purpose (str):
        receipt (ReceiptOutReceipt): the signed receipt's claims
        record_id (UUID):
        superseded (bool):
    """

    decision: str
    jws: str
    purpose: str
    receipt: ReceiptOutReceipt
    record_id: UUID
    superseded: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        decision = self.decision

        jws = self.jws

        purpose = self.purpose

        receipt = self.receipt.to_dict()

        record_id = str(self.record_id)

        superseded = self.superseded

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "decision": decision,
                "jws": jws,
                "purpose": purpose,
                "receipt": receipt,
                "record_id": record_id,
                "superseded": superseded,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.receipt_out_receipt import ReceiptOutReceipt  # noqa: PLC0415

        d = dict(src_dict)
        decision = d.pop("decision")

        jws = d.pop("jws")

        purpose = d.pop("purpose")

        receipt = ReceiptOutReceipt.from_dict(d.pop("receipt"))

        record_id = UUID(d.pop("record_id"))

        superseded = d.pop("superseded")

        receipt_out = cls(
            decision=decision,
            jws=jws,
            purpose=purpose,
            receipt=receipt,
            record_id=record_id,
            superseded=superseded,
        )

        receipt_out.additional_properties = d
        return receipt_out

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
