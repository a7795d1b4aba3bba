from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.request_out_extensions_item import RequestOutExtensionsItem
    from ..models.request_out_items_item import RequestOutItemsItem
    from ..models.request_out_params import RequestOutParams


T = TypeVar("T", bound="RequestOut")


@_attrs_define
class RequestOut:
    """
    Attributes:
        closed_at (datetime.datetime | None):
        confirm_by (datetime.date | None):
        confirmation_late (bool):
        confirmation_method (None | str):
        confirmation_overdue (bool):
        confirmed_at (datetime.datetime | None):
        days_left (int):
        due_on (datetime.date):
        extension_available (None | str):
        extension_notice_by (datetime.date | None):
        extension_refusal (None | str):
        extensions (list[RequestOutExtensionsItem]):
        has_certificate (bool):
        id (UUID):
        items (list[RequestOutItemsItem]):
        job_id (None | UUID):
        jurisdiction (str):
        kind (str):
        merged_count (int):
        original_due_on (datetime.date):
        outcome_reason (None | str):
        overdue (bool):
        params (RequestOutParams):
        received_at (datetime.datetime):
        rejection_code (None | str):
        source (str):
        status (str):
        subject_id (UUID):
        verification_method (None | str):
        verified_at (datetime.datetime | None):
    """

    closed_at: datetime.datetime | None
    confirm_by: datetime.date | None
    confirmation_late: bool
    confirmation_method: None | str
    confirmation_overdue: bool
    confirmed_at: datetime.datetime | None
    days_left: int
    due_on: datetime.date
    extension_available: None | str
    extension_notice_by: datetime.date | None
    extension_refusal: None | str
    extensions: list[RequestOutExtensionsItem]
    has_certificate: bool
    id: UUID
    items: list[RequestOutItemsItem]
    job_id: None | UUID
    jurisdiction: str
    kind: str
    merged_count: int
    original_due_on: datetime.date
    outcome_reason: None | str
    overdue: bool
    params: RequestOutParams
    received_at: datetime.datetime
    rejection_code: None | str
    source: str
    status: str
    subject_id: UUID
    verification_method: None | str
    verified_at: datetime.datetime | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        closed_at: None | str
        if isinstance(self.closed_at, datetime.datetime):
            closed_at = self.closed_at.isoformat()
        else:
            closed_at = self.closed_at

        confirm_by: None | str
        if isinstance(self.confirm_by, datetime.date):
            confirm_by = self.confirm_by.isoformat()
        else:
            confirm_by = self.confirm_by

        confirmation_late = self.confirmation_late

        confirmation_method: None | str
        confirmation_method = self.confirmation_method

        confirmation_overdue = self.confirmation_overdue

        confirmed_at: None | str
        if isinstance(self.confirmed_at, datetime.datetime):
            confirmed_at = self.confirmed_at.isoformat()
        else:
            confirmed_at = self.confirmed_at

        days_left = self.days_left

        due_on = self.due_on.isoformat()

        extension_available: None | str
        extension_available = self.extension_available

        extension_notice_by: None | str
        if isinstance(self.extension_notice_by, datetime.date):
            extension_notice_by = self.extension_notice_by.isoformat()
        else:
            extension_notice_by = self.extension_notice_by

        extension_refusal: None | str
        extension_refusal = self.extension_refusal

        extensions = []
        for extensions_item_data in self.extensions:
            extensions_item = extensions_item_data.to_dict()
            extensions.append(extensions_item)

        has_certificate = self.has_certificate

        id = str(self.id)

        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        job_id: None | str
        if isinstance(self.job_id, UUID):
            job_id = str(self.job_id)
        else:
            job_id = self.job_id

        jurisdiction = self.jurisdiction

        kind = self.kind

        merged_count = self.merged_count

        original_due_on = self.original_due_on.isoformat()

        outcome_reason: None | str
        outcome_reason = self.outcome_reason

        overdue = self.overdue

        params = self.params.to_dict()

        received_at = self.received_at.isoformat()

        rejection_code: None | str
        rejection_code = self.rejection_code

        source = self.source

        status = self.status

        subject_id = str(self.subject_id)

        verification_method: None | str
        verification_method = self.verification_method

        verified_at: None | str
        if isinstance(self.verified_at, datetime.datetime):
            verified_at = self.verified_at.isoformat()
        else:
            verified_at = self.verified_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "closed_at": closed_at,
                "confirm_by": confirm_by,
                "confirmation_late": confirmation_late,
                "confirmation_method": confirmation_method,
                "confirmation_overdue": confirmation_overdue,
                "confirmed_at": confirmed_at,
                "days_left": days_left,
                "due_on": due_on,
                "extension_available": extension_available,
                "extension_notice_by": extension_notice_by,
                "extension_refusal": extension_refusal,
                "extensions": extensions,
                "has_certificate": has_certificate,
                "id": id,
                "items": items,
                "job_id": job_id,
                "jurisdiction": jurisdiction,
                "kind": kind,
                "merged_count": merged_count,
                "original_due_on": original_due_on,
                "outcome_reason": outcome_reason,
                "overdue": overdue,
                "params": params,
                "received_at": received_at,
                "rejection_code": rejection_code,
                "source": source,
                "status": status,
                "subject_id": subject_id,
                "verification_method": verification_method,
                "verified_at": verified_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.request_out_extensions_item import RequestOutExtensionsItem  # noqa: PLC0415
        from ..models.request_out_items_item import RequestOutItemsItem  # noqa: PLC0415
        from ..models.request_out_params import RequestOutParams  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_closed_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                closed_at_type_0 = datetime.datetime.fromisoformat(data)

                return closed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        closed_at = _parse_closed_at(d.pop("closed_at"))

        def _parse_confirm_by(data: object) -> datetime.date | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                confirm_by_type_0 = datetime.date.fromisoformat(data)

                return confirm_by_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None, data)

        confirm_by = _parse_confirm_by(d.pop("confirm_by"))

        confirmation_late = d.pop("confirmation_late")

        def _parse_confirmation_method(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        confirmation_method = _parse_confirmation_method(d.pop("confirmation_method"))

        confirmation_overdue = d.pop("confirmation_overdue")

        def _parse_confirmed_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                confirmed_at_type_0 = datetime.datetime.fromisoformat(data)

                return confirmed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        confirmed_at = _parse_confirmed_at(d.pop("confirmed_at"))

        days_left = d.pop("days_left")

        due_on = datetime.date.fromisoformat(d.pop("due_on"))

        def _parse_extension_available(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        extension_available = _parse_extension_available(d.pop("extension_available"))

        def _parse_extension_notice_by(data: object) -> datetime.date | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                extension_notice_by_type_0 = datetime.date.fromisoformat(data)

                return extension_notice_by_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None, data)

        extension_notice_by = _parse_extension_notice_by(d.pop("extension_notice_by"))

        def _parse_extension_refusal(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        extension_refusal = _parse_extension_refusal(d.pop("extension_refusal"))

        extensions = []
        _extensions = d.pop("extensions")
        for extensions_item_data in _extensions:
            extensions_item = RequestOutExtensionsItem.from_dict(extensions_item_data)

            extensions.append(extensions_item)

        has_certificate = d.pop("has_certificate")

        id = UUID(d.pop("id"))

        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = RequestOutItemsItem.from_dict(items_item_data)

            items.append(items_item)

        def _parse_job_id(data: object) -> None | UUID:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                job_id_type_0 = UUID(data)

                return job_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | UUID, data)

        job_id = _parse_job_id(d.pop("job_id"))

        jurisdiction = d.pop("jurisdiction")

        kind = d.pop("kind")

        merged_count = d.pop("merged_count")

        original_due_on = datetime.date.fromisoformat(d.pop("original_due_on"))

        def _parse_outcome_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        outcome_reason = _parse_outcome_reason(d.pop("outcome_reason"))

        overdue = d.pop("overdue")

        params = RequestOutParams.from_dict(d.pop("params"))

        received_at = datetime.datetime.fromisoformat(d.pop("received_at"))

        def _parse_rejection_code(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        rejection_code = _parse_rejection_code(d.pop("rejection_code"))

        source = d.pop("source")

        status = d.pop("status")

        subject_id = UUID(d.pop("subject_id"))

        def _parse_verification_method(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        verification_method = _parse_verification_method(d.pop("verification_method"))

        def _parse_verified_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                verified_at_type_0 = datetime.datetime.fromisoformat(data)

                return verified_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        verified_at = _parse_verified_at(d.pop("verified_at"))

        request_out = cls(
            closed_at=closed_at,
            confirm_by=confirm_by,
            confirmation_late=confirmation_late,
            confirmation_method=confirmation_method,
            confirmation_overdue=confirmation_overdue,
            confirmed_at=confirmed_at,
            days_left=days_left,
            due_on=due_on,
            extension_available=extension_available,
            extension_notice_by=extension_notice_by,
            extension_refusal=extension_refusal,
            extensions=extensions,
            has_certificate=has_certificate,
            id=id,
            items=items,
            job_id=job_id,
            jurisdiction=jurisdiction,
            kind=kind,
            merged_count=merged_count,
            original_due_on=original_due_on,
            outcome_reason=outcome_reason,
            overdue=overdue,
            params=params,
            received_at=received_at,
            rejection_code=rejection_code,
            source=source,
            status=status,
            subject_id=subject_id,
            verification_method=verification_method,
            verified_at=verified_at,
        )

        request_out.additional_properties = d
        return request_out

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
