from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="PurposeStateOut")


@_attrs_define
class PurposeStateOut:
    """
    Attributes:
        allowed (bool):
        current_notice_version (int):
        decided_at (datetime.datetime | None):
        decision (None | str):
        description (str):
        expires_at (datetime.datetime | None):
        legal_basis (str):
        needs_renewal (bool):
        notice_version (int | None):
        objected (bool):
        purpose (str):
        reason (str):
        sale_or_sharing (bool):
        title (str):
    """

    allowed: bool
    current_notice_version: int
    decided_at: datetime.datetime | None
    decision: None | str
    description: str
    expires_at: datetime.datetime | None
    legal_basis: str
    needs_renewal: bool
    notice_version: int | None
    objected: bool
    purpose: str
    reason: str
    sale_or_sharing: bool
    title: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        allowed = self.allowed

        current_notice_version = self.current_notice_version

        decided_at: None | str
        if isinstance(self.decided_at, datetime.datetime):
            decided_at = self.decided_at.isoformat()
        else:
            decided_at = self.decided_at

        decision: None | str
        decision = self.decision

        description = self.description

        expires_at: None | str
        if isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        legal_basis = self.legal_basis

        needs_renewal = self.needs_renewal

        notice_version: int | None
        notice_version = self.notice_version

        objected = self.objected

        purpose = self.purpose

        reason = self.reason

        sale_or_sharing = self.sale_or_sharing

        title = self.title

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "allowed": allowed,
                "current_notice_version": current_notice_version,
                "decided_at": decided_at,
                "decision": decision,
                "description": description,
                "expires_at": expires_at,
                "legal_basis": legal_basis,
                "needs_renewal": needs_renewal,
                "notice_version": notice_version,
                "objected": objected,
                "purpose": purpose,
                "reason": reason,
                "sale_or_sharing": sale_or_sharing,
                "title": title,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        allowed = d.pop("allowed")

        current_notice_version = d.pop("current_notice_version")

        def _parse_decided_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                decided_at_type_0 = datetime.datetime.fromisoformat(data)

                return decided_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        decided_at = _parse_decided_at(d.pop("decided_at"))

        def _parse_decision(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        decision = _parse_decision(d.pop("decision"))

        description = d.pop("description")

        def _parse_expires_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_at_type_0 = datetime.datetime.fromisoformat(data)

                return expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        expires_at = _parse_expires_at(d.pop("expires_at"))

        legal_basis = d.pop("legal_basis")

        needs_renewal = d.pop("needs_renewal")

        def _parse_notice_version(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        notice_version = _parse_notice_version(d.pop("notice_version"))

        objected = d.pop("objected")

        purpose = d.pop("purpose")

        reason = d.pop("reason")

        sale_or_sharing = d.pop("sale_or_sharing")

        title = d.pop("title")

        purpose_state_out = cls(
            allowed=allowed,
            current_notice_version=current_notice_version,
            decided_at=decided_at,
            decision=decision,
            description=description,
            expires_at=expires_at,
            legal_basis=legal_basis,
            needs_renewal=needs_renewal,
            notice_version=notice_version,
            objected=objected,
            purpose=purpose,
            reason=reason,
            sale_or_sharing=sale_or_sharing,
            title=title,
        )

        purpose_state_out.additional_properties = d
        return purpose_state_out

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
