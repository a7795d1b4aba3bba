from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.consent_event_out_evidence import ConsentEventOutEvidence


T = TypeVar("T", bound="ConsentEventOut")


@_attrs_define
class ConsentEventOut:
    """
    Attributes:
        actor_kind (str):
        collected_at (datetime.datetime):
        decision (str):
        evidence (ConsentEventOutEvidence):
        id (UUID):
        jurisdiction (str):
        method (str):
        notice_sha256 (str):
        notice_version (int):
        purpose (str):
        recorded_at (datetime.datetime):
        seq (int):
        superseded (bool):
    """

    actor_kind: str
    collected_at: datetime.datetime
    decision: str
    evidence: ConsentEventOutEvidence
    id: UUID
    jurisdiction: str
    method: str
    notice_sha256: str
    notice_version: int
    purpose: str
    recorded_at: datetime.datetime
    seq: int
    superseded: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        actor_kind = self.actor_kind

        collected_at = self.collected_at.isoformat()

        decision = self.decision

        evidence = self.evidence.to_dict()

        id = str(self.id)

        jurisdiction = self.jurisdiction

        method = self.method

        notice_sha256 = self.notice_sha256

        notice_version = self.notice_version

        purpose = self.purpose

        recorded_at = self.recorded_at.isoformat()

        seq = self.seq

        superseded = self.superseded

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "actor_kind": actor_kind,
                "collected_at": collected_at,
                "decision": decision,
                "evidence": evidence,
                "id": id,
                "jurisdiction": jurisdiction,
                "method": method,
                "notice_sha256": notice_sha256,
                "notice_version": notice_version,
                "purpose": purpose,
                "recorded_at": recorded_at,
                "seq": seq,
                "superseded": superseded,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.consent_event_out_evidence import ConsentEventOutEvidence  # noqa: PLC0415

        d = dict(src_dict)
        actor_kind = d.pop("actor_kind")

        collected_at = datetime.datetime.fromisoformat(d.pop("collected_at"))

        decision = d.pop("decision")

        evidence = ConsentEventOutEvidence.from_dict(d.pop("evidence"))

        id = UUID(d.pop("id"))

        jurisdiction = d.pop("jurisdiction")

        method = d.pop("method")

        notice_sha256 = d.pop("notice_sha256")

        notice_version = d.pop("notice_version")

        purpose = d.pop("purpose")

        recorded_at = datetime.datetime.fromisoformat(d.pop("recorded_at"))

        seq = d.pop("seq")

        superseded = d.pop("superseded")

        consent_event_out = cls(
            actor_kind=actor_kind,
            collected_at=collected_at,
            decision=decision,
            evidence=evidence,
            id=id,
            jurisdiction=jurisdiction,
            method=method,
            notice_sha256=notice_sha256,
            notice_version=notice_version,
            purpose=purpose,
            recorded_at=recorded_at,
            seq=seq,
            superseded=superseded,
        )

        consent_event_out.additional_properties = d
        return consent_event_out

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
