from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.create_subject_body_profile_type_0 import CreateSubjectBodyProfileType0


T = TypeVar("T", bound="CreateSubjectBody")


@_attrs_define
class CreateSubjectBody:
    """
    Attributes:
        external_ref (str): the product's own user reference
        jurisdiction (str | Unset): EU, a country code, or US-CA style Default: 'EU'.
        profile (CreateSubjectBodyProfileType0 | None | Unset): profile fields by name (policies/categories.yaml);
            validated, then encrypted
    """

    external_ref: str
    jurisdiction: str | Unset = "EU"
    profile: CreateSubjectBodyProfileType0 | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.create_subject_body_profile_type_0 import CreateSubjectBodyProfileType0  # noqa: PLC0415

        external_ref = self.external_ref

        jurisdiction = self.jurisdiction

        profile: dict[str, Any] | None | Unset
        if isinstance(self.profile, Unset):
            profile = UNSET
        elif isinstance(self.profile, CreateSubjectBodyProfileType0):
            profile = self.profile.to_dict()
        else:
            profile = self.profile

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "external_ref": external_ref,
            }
        )
        if jurisdiction is not UNSET:
            field_dict["jurisdiction"] = jurisdiction
        if profile is not UNSET:
            field_dict["profile"] = profile

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.create_subject_body_profile_type_0 import CreateSubjectBodyProfileType0  # noqa: PLC0415

        d = dict(src_dict)
        external_ref = d.pop("external_ref")

        jurisdiction = d.pop("jurisdiction", UNSET)

        def _parse_profile(data: object) -> CreateSubjectBodyProfileType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                profile_type_0 = CreateSubjectBodyProfileType0.from_dict(data)

                return profile_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CreateSubjectBodyProfileType0 | None | Unset, data)

        profile = _parse_profile(d.pop("profile", UNSET))

        create_subject_body = cls(
            external_ref=external_ref,
            jurisdiction=jurisdiction,
            profile=profile,
        )

        return create_subject_body
