from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.decision_out import DecisionOut
    from ..models.decisions_out_context_type_0 import DecisionsOutContextType0


T = TypeVar("T", bound="DecisionsOut")


@_attrs_define
class DecisionsOut:
    """`evaluations` in the request's order; a request without `evaluations` gets one Decision instead.

    Attributes:
        context (DecisionsOutContextType0 | None | Unset):
        decision (bool | None | Unset):
        evaluations (list[DecisionOut] | None | Unset):
    """

    context: DecisionsOutContextType0 | None | Unset = UNSET
    decision: bool | None | Unset = UNSET
    evaluations: list[DecisionOut] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.decisions_out_context_type_0 import DecisionsOutContextType0  # noqa: PLC0415

        context: dict[str, Any] | None | Unset
        if isinstance(self.context, Unset):
            context = UNSET
        elif isinstance(self.context, DecisionsOutContextType0):
            context = self.context.to_dict()
        else:
            context = self.context

        decision: bool | None | Unset
        if isinstance(self.decision, Unset):
            decision = UNSET
        else:
            decision = self.decision

        evaluations: list[dict[str, Any]] | None | Unset
        if isinstance(self.evaluations, Unset):
            evaluations = UNSET
        elif isinstance(self.evaluations, list):
            evaluations = []
            for evaluations_type_0_item_data in self.evaluations:
                evaluations_type_0_item = evaluations_type_0_item_data.to_dict()
                evaluations.append(evaluations_type_0_item)

        else:
            evaluations = self.evaluations

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if context is not UNSET:
            field_dict["context"] = context
        if decision is not UNSET:
            field_dict["decision"] = decision
        if evaluations is not UNSET:
            field_dict["evaluations"] = evaluations

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.decision_out import DecisionOut  # noqa: PLC0415
        from ..models.decisions_out_context_type_0 import DecisionsOutContextType0  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_context(data: object) -> DecisionsOutContextType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                context_type_0 = DecisionsOutContextType0.from_dict(data)

                return context_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DecisionsOutContextType0 | None | Unset, data)

        context = _parse_context(d.pop("context", UNSET))

        def _parse_decision(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        decision = _parse_decision(d.pop("decision", UNSET))

        def _parse_evaluations(data: object) -> list[DecisionOut] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                evaluations_type_0 = []
                _evaluations_type_0 = data
                for evaluations_type_0_item_data in _evaluations_type_0:
                    evaluations_type_0_item = DecisionOut.from_dict(evaluations_type_0_item_data)

                    evaluations_type_0.append(evaluations_type_0_item)

                return evaluations_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[DecisionOut] | None | Unset, data)

        evaluations = _parse_evaluations(d.pop("evaluations", UNSET))

        decisions_out = cls(
            context=context,
            decision=decision,
            evaluations=evaluations,
        )

        decisions_out.additional_properties = d
        return decisions_out

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
