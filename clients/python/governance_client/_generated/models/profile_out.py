from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.profile_out_view import ProfileOutView
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.profile_out_event_counts_type_0 import ProfileOutEventCountsType0
    from ..models.profile_out_fields_type_0 import ProfileOutFieldsType0


T = TypeVar("T", bound="ProfileOut")


@_attrs_define
class ProfileOut:
    """
    Attributes:
        subject_id (UUID):
        view (ProfileOutView):
        event_counts (None | ProfileOutEventCountsType0 | Unset):
        events_total (int | None | Unset):
        fields (None | ProfileOutFieldsType0 | Unset):
        fields_present (list[str] | None | Unset):
    """

    subject_id: UUID
    view: ProfileOutView
    event_counts: None | ProfileOutEventCountsType0 | Unset = UNSET
    events_total: int | None | Unset = UNSET
    fields: None | ProfileOutFieldsType0 | Unset = UNSET
    fields_present: list[str] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.profile_out_event_counts_type_0 import ProfileOutEventCountsType0  # noqa: PLC0415
        from ..models.profile_out_fields_type_0 import ProfileOutFieldsType0  # noqa: PLC0415

        subject_id = str(self.subject_id)

        view = self.view.value

        event_counts: dict[str, Any] | None | Unset
        if isinstance(self.event_counts, Unset):
            event_counts = UNSET
        elif isinstance(self.event_counts, ProfileOutEventCountsType0):
            event_counts = self.event_counts.to_dict()
        else:
            event_counts = self.event_counts

        events_total: int | None | Unset
        if isinstance(self.events_total, Unset):
            events_total = UNSET
        else:
            events_total = self.events_total

        fields: dict[str, Any] | None | Unset
        if isinstance(self.fields, Unset):
            fields = UNSET
        elif isinstance(self.fields, ProfileOutFieldsType0):
            fields = self.fields.to_dict()
        else:
            fields = self.fields

        fields_present: list[str] | None | Unset
        if isinstance(self.fields_present, Unset):
            fields_present = UNSET
        elif isinstance(self.fields_present, list):
            fields_present = self.fields_present

        else:
            fields_present = self.fields_present

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "subject_id": subject_id,
                "view": view,
            }
        )
        if event_counts is not UNSET:
            field_dict["event_counts"] = event_counts
        if events_total is not UNSET:
            field_dict["events_total"] = events_total
        if fields is not UNSET:
            field_dict["fields"] = fields
        if fields_present is not UNSET:
            field_dict["fields_present"] = fields_present

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.profile_out_event_counts_type_0 import ProfileOutEventCountsType0  # noqa: PLC0415
        from ..models.profile_out_fields_type_0 import ProfileOutFieldsType0  # noqa: PLC0415

        d = dict(src_dict)
        subject_id = UUID(d.pop("subject_id"))

        view = ProfileOutView(d.pop("view"))

        def _parse_event_counts(data: object) -> None | ProfileOutEventCountsType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                event_counts_type_0 = ProfileOutEventCountsType0.from_dict(data)

                return event_counts_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ProfileOutEventCountsType0 | Unset, data)

        event_counts = _parse_event_counts(d.pop("event_counts", UNSET))

        def _parse_events_total(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        events_total = _parse_events_total(d.pop("events_total", UNSET))

        def _parse_fields(data: object) -> None | ProfileOutFieldsType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                fields_type_0 = ProfileOutFieldsType0.from_dict(data)

                return fields_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ProfileOutFieldsType0 | Unset, data)

        fields = _parse_fields(d.pop("fields", UNSET))

        def _parse_fields_present(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                fields_present_type_0 = cast(list[str], data)

                return fields_present_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        fields_present = _parse_fields_present(d.pop("fields_present", UNSET))

        profile_out = cls(
            subject_id=subject_id,
            view=view,
            event_counts=event_counts,
            events_total=events_total,
            fields=fields,
            fields_present=fields_present,
        )

        profile_out.additional_properties = d
        return profile_out

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
