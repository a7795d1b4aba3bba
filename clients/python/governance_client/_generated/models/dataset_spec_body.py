from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.dataset_spec_body_format import DatasetSpecBodyFormat
from ..models.dataset_spec_body_mode import DatasetSpecBodyMode
from ..models.dataset_spec_body_pseudonyms import DatasetSpecBodyPseudonyms
from ..types import UNSET, Unset

T = TypeVar("T", bound="DatasetSpecBody")


@_attrs_define
class DatasetSpecBody:
    """
    Attributes:
        purpose (str):
        event_categories (list[str] | Unset):
        event_fields (list[str] | Unset):
        format_ (DatasetSpecBodyFormat | Unset):  Default: DatasetSpecBodyFormat.JSONL.
        mode (DatasetSpecBodyMode | Unset): pseudonymized_rows: row-level pseudonymized personal data (k per person);
            dp_synthetic: synthetic rows from a differentially private generator Default:
            DatasetSpecBodyMode.PSEUDONYMIZED_ROWS.
        profile_fields (list[str] | Unset):
        pseudonyms (DatasetSpecBodyPseudonyms | Unset):  Default: DatasetSpecBodyPseudonyms.PER_RELEASE.
        since (datetime.datetime | None | Unset):
        until (datetime.datetime | None | Unset):
    """

    purpose: str
    event_categories: list[str] | Unset = UNSET
    event_fields: list[str] | Unset = UNSET
    format_: DatasetSpecBodyFormat | Unset = DatasetSpecBodyFormat.JSONL
    mode: DatasetSpecBodyMode | Unset = DatasetSpecBodyMode.PSEUDONYMIZED_ROWS
    profile_fields: list[str] | Unset = UNSET
    pseudonyms: DatasetSpecBodyPseudonyms | Unset = DatasetSpecBodyPseudonyms.PER_RELEASE
    since: datetime.datetime | None | Unset = UNSET
    until: datetime.datetime | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        purpose = self.purpose

        event_categories: list[str] | Unset = UNSET
        if not isinstance(self.event_categories, Unset):
            event_categories = self.event_categories

        event_fields: list[str] | Unset = UNSET
        if not isinstance(self.event_fields, Unset):
            event_fields = self.event_fields

        format_: str | Unset = UNSET
        if not isinstance(self.format_, Unset):
            format_ = self.format_.value

        mode: str | Unset = UNSET
        if not isinstance(self.mode, Unset):
            mode = self.mode.value

        profile_fields: list[str] | Unset = UNSET
        if not isinstance(self.profile_fields, Unset):
            profile_fields = self.profile_fields

        pseudonyms: str | Unset = UNSET
        if not isinstance(self.pseudonyms, Unset):
            pseudonyms = self.pseudonyms.value

        since: None | str | Unset
        if isinstance(self.since, Unset):
            since = UNSET
        elif isinstance(self.since, datetime.datetime):
            since = self.since.isoformat()
        else:
            since = self.since

        until: None | str | Unset
        if isinstance(self.until, Unset):
            until = UNSET
        elif isinstance(self.until, datetime.datetime):
            until = self.until.isoformat()
        else:
            until = self.until

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "purpose": purpose,
            }
        )
        if event_categories is not UNSET:
            field_dict["event_categories"] = event_categories
        if event_fields is not UNSET:
            field_dict["event_fields"] = event_fields
        if format_ is not UNSET:
            field_dict["format"] = format_
        if mode is not UNSET:
            field_dict["mode"] = mode
        if profile_fields is not UNSET:
            field_dict["profile_fields"] = profile_fields
        if pseudonyms is not UNSET:
            field_dict["pseudonyms"] = pseudonyms
        if since is not UNSET:
            field_dict["since"] = since
        if until is not UNSET:
            field_dict["until"] = until

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        purpose = d.pop("purpose")

        event_categories = cast(list[str], d.pop("event_categories", UNSET))

        event_fields = cast(list[str], d.pop("event_fields", UNSET))

        _format_ = d.pop("format", UNSET)
        format_: DatasetSpecBodyFormat | Unset
        if isinstance(_format_, Unset):
            format_ = UNSET
        else:
            format_ = DatasetSpecBodyFormat(_format_)

        _mode = d.pop("mode", UNSET)
        mode: DatasetSpecBodyMode | Unset
        if isinstance(_mode, Unset):
            mode = UNSET
        else:
            mode = DatasetSpecBodyMode(_mode)

        profile_fields = cast(list[str], d.pop("profile_fields", UNSET))

        _pseudonyms = d.pop("pseudonyms", UNSET)
        pseudonyms: DatasetSpecBodyPseudonyms | Unset
        if isinstance(_pseudonyms, Unset):
            pseudonyms = UNSET
        else:
            pseudonyms = DatasetSpecBodyPseudonyms(_pseudonyms)

        def _parse_since(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                since_type_0 = datetime.datetime.fromisoformat(data)

                return since_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        since = _parse_since(d.pop("since", UNSET))

        def _parse_until(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                until_type_0 = datetime.datetime.fromisoformat(data)

                return until_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        until = _parse_until(d.pop("until", UNSET))

        dataset_spec_body = cls(
            purpose=purpose,
            event_categories=event_categories,
            event_fields=event_fields,
            format_=format_,
            mode=mode,
            profile_fields=profile_fields,
            pseudonyms=pseudonyms,
            since=since,
            until=until,
        )

        return dataset_spec_body
