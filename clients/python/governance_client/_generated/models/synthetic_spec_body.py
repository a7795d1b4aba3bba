from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.synthetic_spec_body_format import SyntheticSpecBodyFormat
from ..types import UNSET, Unset

T = TypeVar("T", bound="SyntheticSpecBody")


@_attrs_define
class SyntheticSpecBody:
    """A DP synthetic release (mode `dp_synthetic`): one synthetic row per synthetic person, with the asked profile
    fields (their public categories) and, per event category, a bucketed event count.

        Attributes:
            epsilon (float | str):
            purpose (str):
            delta (float | None | str | Unset):
            event_categories (list[str] | Unset):
            format_ (SyntheticSpecBodyFormat | Unset):  Default: SyntheticSpecBodyFormat.CSV.
            profile_fields (list[str] | Unset):
            since (datetime.datetime | None | Unset):
            until (datetime.datetime | None | Unset):
            utility_target (None | str | Unset):
    """

    epsilon: float | str
    purpose: str
    delta: float | None | str | Unset = UNSET
    event_categories: list[str] | Unset = UNSET
    format_: SyntheticSpecBodyFormat | Unset = SyntheticSpecBodyFormat.CSV
    profile_fields: list[str] | Unset = UNSET
    since: datetime.datetime | None | Unset = UNSET
    until: datetime.datetime | None | Unset = UNSET
    utility_target: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        epsilon: float | str
        epsilon = self.epsilon

        purpose = self.purpose

        delta: float | None | str | Unset
        if isinstance(self.delta, Unset):
            delta = UNSET
        else:
            delta = self.delta

        event_categories: list[str] | Unset = UNSET
        if not isinstance(self.event_categories, Unset):
            event_categories = self.event_categories

        format_: str | Unset = UNSET
        if not isinstance(self.format_, Unset):
            format_ = self.format_.value

        profile_fields: list[str] | Unset = UNSET
        if not isinstance(self.profile_fields, Unset):
            profile_fields = self.profile_fields

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

        utility_target: None | str | Unset
        if isinstance(self.utility_target, Unset):
            utility_target = UNSET
        else:
            utility_target = self.utility_target

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "epsilon": epsilon,
                "purpose": purpose,
            }
        )
        if delta is not UNSET:
            field_dict["delta"] = delta
        if event_categories is not UNSET:
            field_dict["event_categories"] = event_categories
        if format_ is not UNSET:
            field_dict["format"] = format_
        if profile_fields is not UNSET:
            field_dict["profile_fields"] = profile_fields
        if since is not UNSET:
            field_dict["since"] = since
        if until is not UNSET:
            field_dict["until"] = until
        if utility_target is not UNSET:
            field_dict["utility_target"] = utility_target

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_epsilon(data: object) -> float | str:
            return cast(float | str, data)

        epsilon = _parse_epsilon(d.pop("epsilon"))

        purpose = d.pop("purpose")

        def _parse_delta(data: object) -> float | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | str | Unset, data)

        delta = _parse_delta(d.pop("delta", UNSET))

        event_categories = cast(list[str], d.pop("event_categories", UNSET))

        _format_ = d.pop("format", UNSET)
        format_: SyntheticSpecBodyFormat | Unset
        if isinstance(_format_, Unset):
            format_ = UNSET
        else:
            format_ = SyntheticSpecBodyFormat(_format_)

        profile_fields = cast(list[str], d.pop("profile_fields", UNSET))

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

        def _parse_utility_target(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        utility_target = _parse_utility_target(d.pop("utility_target", UNSET))

        synthetic_spec_body = cls(
            epsilon=epsilon,
            purpose=purpose,
            delta=delta,
            event_categories=event_categories,
            format_=format_,
            profile_fields=profile_fields,
            since=since,
            until=until,
            utility_target=utility_target,
        )

        return synthetic_spec_body
