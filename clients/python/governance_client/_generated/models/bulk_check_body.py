from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define

T = TypeVar("T", bound="BulkCheckBody")


@_attrs_define
class BulkCheckBody:
    """
    Attributes:
        purpose (str):
        subject_ids (list[UUID]):
    """

    purpose: str
    subject_ids: list[UUID]

    def to_dict(self) -> dict[str, Any]:
        purpose = self.purpose

        subject_ids = []
        for subject_ids_item_data in self.subject_ids:
            subject_ids_item = str(subject_ids_item_data)
            subject_ids.append(subject_ids_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "purpose": purpose,
                "subject_ids": subject_ids,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        purpose = d.pop("purpose")

        subject_ids = []
        _subject_ids = d.pop("subject_ids")
        for subject_ids_item_data in _subject_ids:
            subject_ids_item = UUID(subject_ids_item_data)

            subject_ids.append(subject_ids_item)

        bulk_check_body = cls(
            purpose=purpose,
            subject_ids=subject_ids,
        )

        return bulk_check_body
