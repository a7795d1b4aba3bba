from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="StatusOut")


@_attrs_define
class StatusOut:
    """
    Attributes:
        request_id (str):
        status (str):
        agent_request_id (None | str | Unset):
        expected_by (None | str | Unset):
        processing_details (None | str | Unset):
        reason (None | str | Unset):
        received_at (None | str | Unset):
    """

    request_id: str
    status: str
    agent_request_id: None | str | Unset = UNSET
    expected_by: None | str | Unset = UNSET
    processing_details: None | str | Unset = UNSET
    reason: None | str | Unset = UNSET
    received_at: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        request_id = self.request_id

        status = self.status

        agent_request_id: None | str | Unset
        if isinstance(self.agent_request_id, Unset):
            agent_request_id = UNSET
        else:
            agent_request_id = self.agent_request_id

        expected_by: None | str | Unset
        if isinstance(self.expected_by, Unset):
            expected_by = UNSET
        else:
            expected_by = self.expected_by

        processing_details: None | str | Unset
        if isinstance(self.processing_details, Unset):
            processing_details = UNSET
        else:
            processing_details = self.processing_details

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        received_at: None | str | Unset
        if isinstance(self.received_at, Unset):
            received_at = UNSET
        else:
            received_at = self.received_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "request_id": request_id,
                "status": status,
            }
        )
        if agent_request_id is not UNSET:
            field_dict["agent_request_id"] = agent_request_id
        if expected_by is not UNSET:
            field_dict["expected_by"] = expected_by
        if processing_details is not UNSET:
            field_dict["processing_details"] = processing_details
        if reason is not UNSET:
            field_dict["reason"] = reason
        if received_at is not UNSET:
            field_dict["received_at"] = received_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        request_id = d.pop("request_id")

        status = d.pop("status")

        def _parse_agent_request_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        agent_request_id = _parse_agent_request_id(d.pop("agent_request_id", UNSET))

        def _parse_expected_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        expected_by = _parse_expected_by(d.pop("expected_by", UNSET))

        def _parse_processing_details(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        processing_details = _parse_processing_details(d.pop("processing_details", UNSET))

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        def _parse_received_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        received_at = _parse_received_at(d.pop("received_at", UNSET))

        status_out = cls(
            request_id=request_id,
            status=status,
            agent_request_id=agent_request_id,
            expected_by=expected_by,
            processing_details=processing_details,
            reason=reason,
            received_at=received_at,
        )

        status_out.additional_properties = d
        return status_out

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
