from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.action import Action
    from ..models.entity import Entity
    from ..models.evaluation_request_context_type_0 import EvaluationRequestContextType0


T = TypeVar("T", bound="EvaluationRequest")


@_attrs_define
class EvaluationRequest:
    """
    Attributes:
        action (Action):
        resource (Entity):
        subject (Entity):
        context (EvaluationRequestContextType0 | None | Unset):
    """

    action: Action
    resource: Entity
    subject: Entity
    context: EvaluationRequestContextType0 | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.evaluation_request_context_type_0 import EvaluationRequestContextType0  # noqa: PLC0415

        action = self.action.to_dict()

        resource = self.resource.to_dict()

        subject = self.subject.to_dict()

        context: dict[str, Any] | None | Unset
        if isinstance(self.context, Unset):
            context = UNSET
        elif isinstance(self.context, EvaluationRequestContextType0):
            context = self.context.to_dict()
        else:
            context = self.context

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "action": action,
                "resource": resource,
                "subject": subject,
            }
        )
        if context is not UNSET:
            field_dict["context"] = context

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.action import Action  # noqa: PLC0415
        from ..models.entity import Entity  # noqa: PLC0415
        from ..models.evaluation_request_context_type_0 import EvaluationRequestContextType0  # noqa: PLC0415

        d = dict(src_dict)
        action = Action.from_dict(d.pop("action"))

        resource = Entity.from_dict(d.pop("resource"))

        subject = Entity.from_dict(d.pop("subject"))

        def _parse_context(data: object) -> EvaluationRequestContextType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                context_type_0 = EvaluationRequestContextType0.from_dict(data)

                return context_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(EvaluationRequestContextType0 | None | Unset, data)

        context = _parse_context(d.pop("context", UNSET))

        evaluation_request = cls(
            action=action,
            resource=resource,
            subject=subject,
            context=context,
        )

        evaluation_request.additional_properties = d
        return evaluation_request

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
