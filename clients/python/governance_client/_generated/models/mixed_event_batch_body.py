from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.mixed_event_batch_body_events_item import MixedEventBatchBodyEventsItem


T = TypeVar("T", bound="MixedEventBatchBody")


@_attrs_define
class MixedEventBatchBody:
    """
    Attributes:
        events (list[MixedEventBatchBodyEventsItem]): up to 10,000 events shaped like EventIn, each with its subject_id
    """

    events: list[MixedEventBatchBodyEventsItem]

    def to_dict(self) -> dict[str, Any]:
        events = []
        for events_item_data in self.events:
            events_item = events_item_data.to_dict()
            events.append(events_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "events": events,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.mixed_event_batch_body_events_item import MixedEventBatchBodyEventsItem  # noqa: PLC0415

        d = dict(src_dict)
        events = []
        _events = d.pop("events")
        for events_item_data in _events:
            events_item = MixedEventBatchBodyEventsItem.from_dict(events_item_data)

            events.append(events_item)

        mixed_event_batch_body = cls(
            events=events,
        )

        return mixed_event_batch_body
