from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.decision_body_decision import DecisionBodyDecision
from ..types import UNSET, Unset

T = TypeVar("T", bound="DecisionBody")


@_attrs_define
class DecisionBody:
    """
    Attributes:
        decision (DecisionBodyDecision):
        purpose (str):
        collected_at (datetime.datetime | None | Unset): when the subject decided (default: now); not in the future
        notice_version (int | None | Unset): the notice shown (default: current)
    """

    decision: DecisionBodyDecision
    purpose: str
    collected_at: datetime.datetime | None | Unset = UNSET
    notice_version: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        decision = self.decision.value

        purpose = self.purpose

        collected_at: None | str | Unset
        if isinstance(self.collected_at, Unset):
            collected_at = UNSET
        elif isinstance(self.collected_at, datetime.datetime):
            collected_at = self.collected_at.isoformat()
        else:
            collected_at = self.collected_at

        notice_version: int | None | Unset
        if isinstance(self.notice_version, Unset):
            notice_version = UNSET
        else:
            notice_version = self.notice_version

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "decision": decision,
                "purpose": purpose,
            }
        )
        if collected_at is not UNSET:
            field_dict["collected_at"] = collected_at
        if notice_version is not UNSET:
            field_dict["notice_version"] = notice_version

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        decision = DecisionBodyDecision(d.pop("decision"))

        purpose = d.pop("purpose")

        def _parse_collected_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                collected_at_type_0 = datetime.datetime.fromisoformat(data)

                return collected_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        collected_at = _parse_collected_at(d.pop("collected_at", UNSET))

        def _parse_notice_version(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        notice_version = _parse_notice_version(d.pop("notice_version", UNSET))

        decision_body = cls(
            decision=decision,
            purpose=purpose,
            collected_at=collected_at,
            notice_version=notice_version,
        )

        return decision_body
