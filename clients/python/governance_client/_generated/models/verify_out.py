from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.verify_out_receipt_type_0 import VerifyOutReceiptType0


T = TypeVar("T", bound="VerifyOut")


@_attrs_define
class VerifyOut:
    """
    Attributes:
        valid (bool):
        current (bool | None | Unset):
        error (None | str | Unset): invalid_receipt when the signature does not verify
        in_ledger (bool | None | Unset):
        message (None | str | Unset):
        receipt (None | Unset | VerifyOutReceiptType0):
    """

    valid: bool
    current: bool | None | Unset = UNSET
    error: None | str | Unset = UNSET
    in_ledger: bool | None | Unset = UNSET
    message: None | str | Unset = UNSET
    receipt: None | Unset | VerifyOutReceiptType0 = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.verify_out_receipt_type_0 import VerifyOutReceiptType0  # noqa: PLC0415

        valid = self.valid

        current: bool | None | Unset
        if isinstance(self.current, Unset):
            current = UNSET
        else:
            current = self.current

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        in_ledger: bool | None | Unset
        if isinstance(self.in_ledger, Unset):
            in_ledger = UNSET
        else:
            in_ledger = self.in_ledger

        message: None | str | Unset
        if isinstance(self.message, Unset):
            message = UNSET
        else:
            message = self.message

        receipt: dict[str, Any] | None | Unset
        if isinstance(self.receipt, Unset):
            receipt = UNSET
        elif isinstance(self.receipt, VerifyOutReceiptType0):
            receipt = self.receipt.to_dict()
        else:
            receipt = self.receipt

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "valid": valid,
            }
        )
        if current is not UNSET:
            field_dict["current"] = current
        if error is not UNSET:
            field_dict["error"] = error
        if in_ledger is not UNSET:
            field_dict["in_ledger"] = in_ledger
        if message is not UNSET:
            field_dict["message"] = message
        if receipt is not UNSET:
            field_dict["receipt"] = receipt

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.verify_out_receipt_type_0 import VerifyOutReceiptType0  # noqa: PLC0415

        d = dict(src_dict)
        valid = d.pop("valid")

        def _parse_current(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        current = _parse_current(d.pop("current", UNSET))

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        def _parse_in_ledger(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        in_ledger = _parse_in_ledger(d.pop("in_ledger", UNSET))

        def _parse_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        message = _parse_message(d.pop("message", UNSET))

        def _parse_receipt(data: object) -> None | Unset | VerifyOutReceiptType0:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                receipt_type_0 = VerifyOutReceiptType0.from_dict(data)

                return receipt_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | VerifyOutReceiptType0, data)

        receipt = _parse_receipt(d.pop("receipt", UNSET))

        verify_out = cls(
            valid=valid,
            current=current,
            error=error,
            in_ledger=in_ledger,
            message=message,
            receipt=receipt,
        )

        verify_out.additional_properties = d
        return verify_out

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
