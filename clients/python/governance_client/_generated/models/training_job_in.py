from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.training_job_in_kind import TrainingJobInKind
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.dataset_spec_in import DatasetSpecIn
    from ..models.label_in import LabelIn
    from ..models.privacy_in import PrivacyIn
    from ..models.training_in import TrainingIn


T = TypeVar("T", bound="TrainingJobIn")


@_attrs_define
class TrainingJobIn:
    """
    Attributes:
        dataset (DatasetSpecIn): The same dataset spec the gateway takes: profile fields, event categories and a time
            window.
        kind (TrainingJobInKind):
        privacy (PrivacyIn):
        purpose (str):
        items (list[str] | None | Unset): the public item catalogue a recommender ranks
        label (LabelIn | None | Unset):
        training (TrainingIn | Unset):
    """

    dataset: DatasetSpecIn
    kind: TrainingJobInKind
    privacy: PrivacyIn
    purpose: str
    items: list[str] | None | Unset = UNSET
    label: LabelIn | None | Unset = UNSET
    training: TrainingIn | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.label_in import LabelIn  # noqa: PLC0415

        dataset = self.dataset.to_dict()

        kind = self.kind.value

        privacy = self.privacy.to_dict()

        purpose = self.purpose

        items: list[str] | None | Unset
        if isinstance(self.items, Unset):
            items = UNSET
        elif isinstance(self.items, list):
            items = self.items

        else:
            items = self.items

        label: dict[str, Any] | None | Unset
        if isinstance(self.label, Unset):
            label = UNSET
        elif isinstance(self.label, LabelIn):
            label = self.label.to_dict()
        else:
            label = self.label

        training: dict[str, Any] | Unset = UNSET
        if not isinstance(self.training, Unset):
            training = self.training.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "dataset": dataset,
                "kind": kind,
                "privacy": privacy,
                "purpose": purpose,
            }
        )
        if items is not UNSET:
            field_dict["items"] = items
        if label is not UNSET:
            field_dict["label"] = label
        if training is not UNSET:
            field_dict["training"] = training

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.dataset_spec_in import DatasetSpecIn  # noqa: PLC0415
        from ..models.label_in import LabelIn  # noqa: PLC0415
        from ..models.privacy_in import PrivacyIn  # noqa: PLC0415
        from ..models.training_in import TrainingIn  # noqa: PLC0415

        d = dict(src_dict)
        dataset = DatasetSpecIn.from_dict(d.pop("dataset"))

        kind = TrainingJobInKind(d.pop("kind"))

        privacy = PrivacyIn.from_dict(d.pop("privacy"))

        purpose = d.pop("purpose")

        def _parse_items(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                items_type_0 = cast(list[str], data)

                return items_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        items = _parse_items(d.pop("items", UNSET))

        def _parse_label(data: object) -> LabelIn | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                label_type_0 = LabelIn.from_dict(data)

                return label_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(LabelIn | None | Unset, data)

        label = _parse_label(d.pop("label", UNSET))

        _training = d.pop("training", UNSET)
        training: TrainingIn | Unset
        if isinstance(_training, Unset):
            training = UNSET
        else:
            training = TrainingIn.from_dict(_training)

        training_job_in = cls(
            dataset=dataset,
            kind=kind,
            privacy=privacy,
            purpose=purpose,
            items=items,
            label=label,
            training=training,
        )

        return training_job_in
