from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.decision_body import DecisionBody
    from ..models.evidence_body import EvidenceBody


T = TypeVar("T", bound="RecordDecisionsBody")


@_attrs_define
class RecordDecisionsBody:
    """
    Attributes:
        decisions (list[DecisionBody] | Unset):
        evidence (EvidenceBody | None | Unset):
        gpc (bool | Unset): the product forwards a Global Privacy Control signal Default: False.
        jurisdiction (None | str | Unset): ISO 3166 code, EU, US-CA…
    """

    decisions: list[DecisionBody] | Unset = UNSET
    evidence: EvidenceBody | None | Unset = UNSET
    gpc: bool | Unset = False
    jurisdiction: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.evidence_body import EvidenceBody  # noqa: PLC0415

        decisions: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.decisions, Unset):
            decisions = []
            for decisions_item_data in self.decisions:
                decisions_item = decisions_item_data.to_dict()
                decisions.append(decisions_item)

        evidence: dict[str, Any] | None | Unset
        if isinstance(self.evidence, Unset):
            evidence = UNSET
        elif isinstance(self.evidence, EvidenceBody):
            evidence = self.evidence.to_dict()
        else:
            evidence = self.evidence

        gpc = self.gpc

        jurisdiction: None | str | Unset
        if isinstance(self.jurisdiction, Unset):
            jurisdiction = UNSET
        else:
            jurisdiction = self.jurisdiction

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if decisions is not UNSET:
            field_dict["decisions"] = decisions
        if evidence is not UNSET:
            field_dict["evidence"] = evidence
        if gpc is not UNSET:
            field_dict["gpc"] = gpc
        if jurisdiction is not UNSET:
            field_dict["jurisdiction"] = jurisdiction

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.decision_body import DecisionBody  # noqa: PLC0415
        from ..models.evidence_body import EvidenceBody  # noqa: PLC0415

        d = dict(src_dict)
        _decisions = d.pop("decisions", UNSET)
        decisions: list[DecisionBody] | Unset = UNSET
        if _decisions is not UNSET:
            decisions = []
            for decisions_item_data in _decisions:
                decisions_item = DecisionBody.from_dict(decisions_item_data)

                decisions.append(decisions_item)

        def _parse_evidence(data: object) -> EvidenceBody | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                evidence_type_0 = EvidenceBody.from_dict(data)

                return evidence_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(EvidenceBody | None | Unset, data)

        evidence = _parse_evidence(d.pop("evidence", UNSET))

        gpc = d.pop("gpc", UNSET)

        def _parse_jurisdiction(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        jurisdiction = _parse_jurisdiction(d.pop("jurisdiction", UNSET))

        record_decisions_body = cls(
            decisions=decisions,
            evidence=evidence,
            gpc=gpc,
            jurisdiction=jurisdiction,
        )

        return record_decisions_body
