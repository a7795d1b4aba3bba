from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, cast

from attrs import define as _attrs_define

from ..models.dp_query_body_over import DPQueryBodyOver
from ..models.dp_query_body_statistic import DPQueryBodyStatistic
from ..types import UNSET, Unset

T = TypeVar("T", bound="DPQueryBody")


@_attrs_define
class DPQueryBody:
    """
    Attributes:
        epsilon (float | str):
        purpose (str):
        statistic (DPQueryBodyStatistic):
        bins (int | Unset):  Default: 10.
        bounds (list[float] | None | Unset):
        event_category (None | str | Unset):
        max_rows_per_subject (int | Unset):  Default: 1.
        over (DPQueryBodyOver | Unset):  Default: DPQueryBodyOver.VALUE.
        profile_value (Literal['age'] | None | Unset):
        quantiles (list[float] | Unset):
        since (datetime.datetime | None | Unset):
        until (datetime.datetime | None | Unset):
    """

    epsilon: float | str
    purpose: str
    statistic: DPQueryBodyStatistic
    bins: int | Unset = 10
    bounds: list[float] | None | Unset = UNSET
    event_category: None | str | Unset = UNSET
    max_rows_per_subject: int | Unset = 1
    over: DPQueryBodyOver | Unset = DPQueryBodyOver.VALUE
    profile_value: Literal["age"] | None | Unset = UNSET
    quantiles: list[float] | Unset = UNSET
    since: datetime.datetime | None | Unset = UNSET
    until: datetime.datetime | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        epsilon: float | str
        epsilon = self.epsilon

        purpose = self.purpose

        statistic = self.statistic.value

        bins = self.bins

        bounds: list[float] | None | Unset
        if isinstance(self.bounds, Unset):
            bounds = UNSET
        elif isinstance(self.bounds, list):
            bounds = []
            for bounds_type_0_item_data in self.bounds:
                bounds_type_0_item: float
                bounds_type_0_item = bounds_type_0_item_data
                bounds.append(bounds_type_0_item)

        else:
            bounds = self.bounds

        event_category: None | str | Unset
        if isinstance(self.event_category, Unset):
            event_category = UNSET
        else:
            event_category = self.event_category

        max_rows_per_subject = self.max_rows_per_subject

        over: str | Unset = UNSET
        if not isinstance(self.over, Unset):
            over = self.over.value

        profile_value: Literal["age"] | None | Unset
        if isinstance(self.profile_value, Unset):
            profile_value = UNSET
        else:
            profile_value = self.profile_value

        quantiles: list[float] | Unset = UNSET
        if not isinstance(self.quantiles, Unset):
            quantiles = self.quantiles

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
                "epsilon": epsilon,
                "purpose": purpose,
                "statistic": statistic,
            }
        )
        if bins is not UNSET:
            field_dict["bins"] = bins
        if bounds is not UNSET:
            field_dict["bounds"] = bounds
        if event_category is not UNSET:
            field_dict["event_category"] = event_category
        if max_rows_per_subject is not UNSET:
            field_dict["max_rows_per_subject"] = max_rows_per_subject
        if over is not UNSET:
            field_dict["over"] = over
        if profile_value is not UNSET:
            field_dict["profile_value"] = profile_value
        if quantiles is not UNSET:
            field_dict["quantiles"] = quantiles
        if since is not UNSET:
            field_dict["since"] = since
        if until is not UNSET:
            field_dict["until"] = until

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_epsilon(data: object) -> float | str:
            return cast(float | str, data)

        epsilon = _parse_epsilon(d.pop("epsilon"))

        purpose = d.pop("purpose")

        statistic = DPQueryBodyStatistic(d.pop("statistic"))

        bins = d.pop("bins", UNSET)

        def _parse_bounds(data: object) -> list[float] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                bounds_type_0 = []
                _bounds_type_0 = data
                for bounds_type_0_item_data in _bounds_type_0:

                    def _parse_bounds_type_0_item(data: object) -> float:
                        return cast(float, data)

                    bounds_type_0_item = _parse_bounds_type_0_item(bounds_type_0_item_data)

                    bounds_type_0.append(bounds_type_0_item)

                return bounds_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[float] | None | Unset, data)

        bounds = _parse_bounds(d.pop("bounds", UNSET))

        def _parse_event_category(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        event_category = _parse_event_category(d.pop("event_category", UNSET))

        max_rows_per_subject = d.pop("max_rows_per_subject", UNSET)

        _over = d.pop("over", UNSET)
        over: DPQueryBodyOver | Unset
        if isinstance(_over, Unset):
            over = UNSET
        else:
            over = DPQueryBodyOver(_over)

        def _parse_profile_value(data: object) -> Literal["age"] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            profile_value_type_0 = cast(Literal["age"], data)
            if profile_value_type_0 != "age":
                raise ValueError(f"profile_value_type_0 must match const 'age', got '{profile_value_type_0}'")
            return profile_value_type_0
            return cast(Literal["age"] | None | Unset, data)

        profile_value = _parse_profile_value(d.pop("profile_value", UNSET))

        quantiles = cast(list[float], d.pop("quantiles", UNSET))

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

        dp_query_body = cls(
            epsilon=epsilon,
            purpose=purpose,
            statistic=statistic,
            bins=bins,
            bounds=bounds,
            event_category=event_category,
            max_rows_per_subject=max_rows_per_subject,
            over=over,
            profile_value=profile_value,
            quantiles=quantiles,
            since=since,
            until=until,
        )

        return dp_query_body
